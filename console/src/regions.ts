// China's regions as the console shows them: names for the 12-digit adcodes the API stores (each asked
// of the API once, kept for the session) and the tree's levels, loaded as they open. Every picker, tag
// and header that shows a region goes through here.
import { reactive } from 'vue'
import { api, getJson, ok } from '@/api/client'

export type Region = { code: string; name: string; level: string } // a type, not an interface: pickers' option types take it

export const regionNames = reactive<Record<string, string>>({})
const asked = new Set<string>()

/** Learn the names of these region codes (unknown ones are asked of the API, once). */
export async function nameRegions(codes: string[]) {
  const missing = codes.filter((code) => !asked.has(code) && !regionNames[code])
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

/** One level of the tree: the provinces (no parent), or a region's cities or districts; their names learnt. */
export async function regionChildren(parent?: string): Promise<(Region & { leaf: boolean })[]> {
  const query = parent ? { parent_code: parent } : { level: 'province' }
  const { data } = await getJson<Region[]>('/api/admin/regions', { ...query, page_size: 100 })
  for (const region of data) regionNames[region.code] = region.name
  return data.map((region) => ({ ...region, leaf: region.level === 'district' }))
}
