// Names of the master data the operations screens show in place of ids (products, factories, lines,
// warehouses, materials, suppliers): one page of 100 per list, read once per visit and shared by the screens.
import { reactive } from 'vue'
import { getJson } from '@/api/client'

type Row = Record<string, any>
const tables = reactive<Record<string, Row[]>>({})
const pending: Record<string, Promise<void>> = {}

/** The first 100 rows of a list (the menus of a form's pickers); loaded once, reloaded on `fresh`. */
export function rowsOf(path: string, fresh = false): Row[] {
  if (!(path in pending) || fresh) {
    pending[path] = getJson<Row[]>(path, { page_size: 100 })
      .then(({ data }) => { tables[path] = data })
      .catch(() => { tables[path] = [] }) // a role that may not read it sees the ids
  }
  return tables[path] ?? []
}

export const LABELS: Record<string, (row: Row) => string> = {
  '/api/admin/products': (row) => `${row.name} (${row.sku})`,
  '/api/admin/factories': (row) => row.name,
  '/api/admin/production-lines': (row) => `${row.name} (${row.code})`,
  '/api/admin/warehouses': (row) => row.name,
  '/api/admin/materials': (row) => `${row.name} (${row.code})`,
  '/api/admin/suppliers': (row) => row.name,
  '/api/admin/production-lots': (row) => row.lot_no,
  '/api/admin/raw-material-lots': (row) => row.lot_no,
}

/** The name of a row of a list by its id, or the id while the list loads (or when it is not in the first page). */
export function nameOf(path: string, id: unknown): string {
  if (id === null || id === undefined || id === '') return '—'
  const row = rowsOf(path).find((r) => r.id === id)
  return row ? LABELS[path](row) : `#${id}`
}

/** A column formatter showing a referenced row's name. */
export function named(path: string) {
  return (id: unknown) => nameOf(path, id)
}
