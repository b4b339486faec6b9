// Build step: the roles allowed for each back-office operation, read from the OpenAPI document's
// x-roles (the API's own rule; the console only hides what the API would refuse anyway).
// Writes src/api/permissions.json: { "GET /api/admin/campaigns": ["admin", ...], ... }, and
// src/api/national-only.json: the operations a user limited to regions is refused (x-data-scope).
import { readFileSync, writeFileSync } from 'node:fs'

const spec = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'))
const allowed = {}
const nationalOnly = []
for (const [path, operations] of Object.entries(spec.paths)) {
  if (!path.startsWith('/api/admin/')) continue
  for (const [method, operation] of Object.entries(operations)) {
    if (operation && Array.isArray(operation['x-roles'])) allowed[`${method.toUpperCase()} ${path}`] = operation['x-roles']
    if (operation && operation['x-data-scope'] === 'national_only') nationalOnly.push(`${method.toUpperCase()} ${path}`)
  }
}
writeFileSync(new URL('../src/api/permissions.json', import.meta.url), JSON.stringify(allowed, null, 1) + '\n')
writeFileSync(new URL('../src/api/national-only.json', import.meta.url), JSON.stringify(nationalOnly.sort(), null, 1) + '\n')
console.log(`permissions: ${Object.keys(allowed).length} back-office operations`)
