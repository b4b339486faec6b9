// Region names for the codes of a data scope (the API stores 12-digit adcodes), fetched once each.
import { reactive } from 'vue'
import { api, ok } from '@/api/client'

export const regionNames = reactive<Record<string, string>>({})
const asked = new Set<string>()

/** Learn the names of these region codes (unknown ones are asked of the API, once). */
export async function nameRegions(codes: string[]) {
  const missing = codes.filter((code) => !asked.has(code))
  for (const code of missing) asked.add(code)
  await Promise.all(missing.map(async (code) => {
    try {
      const region = await ok(api.GET('/api/admin/regions/{code}', { params: { path: { code } } }))
      regionNames[code] = region.name ?? code
    } catch {
      regionNames[code] = code // a code the dataset no longer knows: shown as it is
    }
  }))
}

export function regionLabel(code: string): string {
  return regionNames[code] ?? code
}
