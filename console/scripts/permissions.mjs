// Build step: the roles allowed for each back-office operation, read from the OpenAPI document's
// x-roles (the API's own rule; the console only hides what the API would refuse anyway).
// Writes src/api/permissions.json: { "GET /api/admin/campaigns": ["admin", ...], ... }.
import { readFileSync, writeFileSync } from 'node:fs'

const spec = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'))
const allowed = {}
for (const [path, operations] of Object.entries(spec.paths)) {
  if (!path.startsWith('/api/admin/')) continue
  for (const [method, operation] of Object.entries(operations)) {
    if (operation && Array.isArray(operation['x-roles'])) allowed[`${method.toUpperCase()} ${path}`] = operation['x-roles']
  }
}
writeFileSync(new URL('../src/api/permissions.json', import.meta.url), JSON.stringify(allowed, null, 1) + '\n')
console.log(`permissions: ${Object.keys(allowed).length} back-office operations`)
