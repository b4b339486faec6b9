// Helpers the marketing screens share: the API's 422 errors as messages per form field, money typed in
// yuan sent as fen, China-time pickers sent as UTC, and a report downloaded as a file.
import { getJson, getRaw, saveFile } from '@/api/client'
import { showError } from '@/notify'

export { fieldErrors } from '@/apiErrors' // one flattening for every area's forms

/** Yuan as typed (a number, up to 2 decimals) to whole fen; undefined stays undefined. */
export function toFen(yuan: number | null | undefined): number | null | undefined {
  if (yuan === null || yuan === undefined || (yuan as unknown) === '') return yuan as null | undefined
  return Math.round(Number(yuan) * 100)
}

export function toYuan(fen: number | null | undefined): number | undefined {
  return fen === null || fen === undefined ? undefined : fen / 100
}

/** A China wall-clock time from a picker ("YYYY-MM-DD HH:mm:ss") as the UTC instant the API takes. */
export function chinaToUtc(local: string | null | undefined): string | undefined {
  if (!local) return undefined
  return new Date(`${local.replace(' ', 'T')}+08:00`).toISOString().replace('.000Z', 'Z')
}

/** A UTC instant from the API as the China wall-clock string the pickers show. */
export function utcToChina(iso: string | null | undefined): string | undefined {
  if (!iso) return undefined
  const when = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`)
  const china = new Date(when.getTime() + 8 * 3600 * 1000)
  return china.toISOString().slice(0, 19).replace('T', ' ')
}

/** A report asked for as a file (?format=xlsx): saved by the browser under the API's name. */
export async function download(path: string, query: Record<string, unknown>, fallback: string): Promise<void> {
  await saveFile(await getRaw(path, { ...query, format: 'xlsx' }), `${fallback}.xlsx`)
}

/** The region tree for el-tree-select's lazy `load`: provinces, then a province's cities, then districts. */
export async function loadRegions(node: any, resolve: (data: any[]) => void) {
  try {
    const query = node.level === 0 ? { level: 'province' } : { parent_code: node.data.value }
    const answer = await getJson<{ code: string; name: string; level: string }[]>('/api/admin/regions', { ...query, page_size: 100 })
    resolve(answer.data.map((r) => ({ value: r.code, label: r.name, isLeaf: r.level === 'district' })))
  } catch (error) {
    showError(error)
    resolve([])
  }
}
