// Helpers the marketing screens share: the API's 422 errors as messages per form field, money typed in
// yuan sent as fen, China-time pickers sent as UTC, and a report downloaded as a file.
import { getJson, getRaw, saveFile } from '@/api/client'
import { showError } from '@/notify'
import { regionChildren } from '@/regions'

export { fieldErrors } from '@/apiErrors' // one flattening for every area's forms

/** Yuan as typed (a number, up to 2 decimals) to whole fen; undefined stays undefined. */
export function toFen(yuan: number | null | undefined): number | null | undefined {
  if (yuan === null || yuan === undefined || (yuan as unknown) === '') return yuan as null | undefined
  return Math.round(Number(yuan) * 100)
}

export function toYuan(fen: number | null | undefined): number | undefined {
  return fen === null || fen === undefined ? undefined : fen / 100
}

export { chinaToUtc, utcToChina } from '@/format' // the pickers' China wall clock, one pair for the console

/** A report asked for as a file (?format=xlsx): saved by the browser under the API's name. */
export async function download(path: string, query: Record<string, unknown>, fallback: string): Promise<void> {
  await saveFile(await getRaw(path, { ...query, format: 'xlsx' }), `${fallback}.xlsx`)
}

/** The region tree for el-tree-select's lazy `load`: provinces, then a province's cities, then districts. */
export async function loadRegions(node: any, resolve: (data: any[]) => void) {
  try {
    const regions = await regionChildren(node.level === 0 ? undefined : node.data.value)
    resolve(regions.map((r) => ({ value: r.code, label: r.name, isLeaf: r.leaf })))
  } catch (error) {
    showError(error)
    resolve([])
  }
}
