// The operations records kept as plain lists with a form (products, master data, production and
// raw-material lots): what each lists, filters, edits and which API operations it calls. RecordsPage.vue
// draws any of them; the rules (required fields, formats, uniqueness) are the API's, shown from its 422.
import type { Column, Filter } from '@/components/ListPage.vue'
import { named } from './lookups'

export interface Field {
  name: string
  label: string // i18n key
  type?: 'text' | 'number' | 'date' | 'datetime' | 'select' | 'textarea' | 'ref'
  options?: { value: string; label: string }[] // select
  ref?: string // type 'ref': the list path whose rows are picked
  createOnly?: boolean // not in the PATCH body (the API changes it by an action of its own)
}

export interface Resource {
  path: string // the list; a record is `${path}/${id}`
  title: string
  columns: Column[]
  filters: Filter[]
  fields: Field[]
  create: string // "POST /api/admin/..." (decides who sees the button)
  update: string
  deactivate?: string
  reactivate?: string
}

const STATUS = [{ value: 'active', label: 'ops.status.active' }, { value: 'inactive', label: 'ops.status.inactive' }]
const status: Column = { prop: 'status', label: 'common.status', enumPrefix: 'ops.status', width: 90 }
const statusFilter: Filter = { name: 'status', label: 'common.status', type: 'select', options: STATUS }
const search: Filter = { name: 'q', label: 'ops.f.q' }
const P = '/api/admin'

export const RESOURCES: Record<string, Resource> = {
  products: {
    path: `${P}/products`, title: 'menu.products',
    columns: [{ prop: 'sku', label: 'ops.f.sku', width: 130 }, { prop: 'name', label: 'common.name' },
      { prop: 'gtin', label: 'ops.f.gtin', width: 150 }, { prop: 'specification', label: 'ops.f.specification' },
      { prop: 'units_per_case', label: 'ops.f.units_per_case', format: 'count', width: 100 },
      { prop: 'shelf_life_days', label: 'ops.f.shelf_life_days', format: 'count', width: 100 }, status],
    filters: [search, { name: 'gtin', label: 'ops.f.gtin' }, statusFilter],
    fields: [{ name: 'sku', label: 'ops.f.sku' }, { name: 'name', label: 'common.name' }, { name: 'gtin', label: 'ops.f.gtin' },
      { name: 'specification', label: 'ops.f.specification' }, { name: 'units_per_case', label: 'ops.f.units_per_case', type: 'number' },
      { name: 'cases_per_pallet', label: 'ops.f.cases_per_pallet', type: 'number' },
      { name: 'shelf_life_days', label: 'ops.f.shelf_life_days', type: 'number' }, { name: 'image_url', label: 'ops.f.image_url' },
      { name: 'external_id', label: 'ops.f.external_id' }, { name: 'description', label: 'ops.f.description', type: 'textarea' }],
    create: `POST ${P}/products`, update: `PATCH ${P}/products/{product_id}`,
    deactivate: `POST ${P}/products/{product_id}/deactivate`, reactivate: `POST ${P}/products/{product_id}/reactivate`,
  },
  factories: {
    path: `${P}/factories`, title: 'ops.tab.factories',
    columns: [{ prop: 'name', label: 'common.name' }, { prop: 'region_code', label: 'ops.f.region_code', width: 140 },
      { prop: 'address', label: 'ops.f.address' }, { prop: 'external_id', label: 'ops.f.external_id', width: 140 }, status],
    filters: [search, { name: 'region_code', label: 'ops.f.region_code' }, statusFilter],
    fields: [{ name: 'name', label: 'common.name' }, { name: 'region_code', label: 'ops.f.region_code' },
      { name: 'address', label: 'ops.f.address' }, { name: 'external_id', label: 'ops.f.external_id' }],
    create: `POST ${P}/factories`, update: `PATCH ${P}/factories/{factory_id}`,
    deactivate: `POST ${P}/factories/{factory_id}/deactivate`, reactivate: `POST ${P}/factories/{factory_id}/reactivate`,
  },
  lines: {
    path: `${P}/production-lines`, title: 'ops.tab.lines',
    columns: [{ prop: 'code', label: 'ops.f.code', width: 120 }, { prop: 'name', label: 'common.name' },
      { prop: 'factory_id', label: 'ops.f.factory_id', format: named(`${P}/factories`) },
      { prop: 'mode', label: 'ops.f.mode', enumPrefix: 'ops.mode', width: 110 }, status],
    filters: [search, { name: 'mode', label: 'ops.f.mode', type: 'select', options: ['manual', 'semi_auto', 'auto'].map((m) => ({ value: m, label: `ops.mode.${m}` })) }, statusFilter],
    fields: [{ name: 'code', label: 'ops.f.code' }, { name: 'name', label: 'common.name' },
      { name: 'factory_id', label: 'ops.f.factory_id', type: 'ref', ref: `${P}/factories` },
      { name: 'mode', label: 'ops.f.mode', type: 'select', options: ['manual', 'semi_auto', 'auto'].map((m) => ({ value: m, label: `ops.mode.${m}` })) },
      { name: 'external_id', label: 'ops.f.external_id' }],
    create: `POST ${P}/production-lines`, update: `PATCH ${P}/production-lines/{line_id}`,
    deactivate: `POST ${P}/production-lines/{line_id}/deactivate`, reactivate: `POST ${P}/production-lines/{line_id}/reactivate`,
  },
  warehouses: {
    path: `${P}/warehouses`, title: 'ops.tab.warehouses',
    columns: [{ prop: 'name', label: 'common.name' }, { prop: 'factory_id', label: 'ops.f.factory_id', format: named(`${P}/factories`) },
      { prop: 'region_code', label: 'ops.f.region_code', width: 140 }, { prop: 'address', label: 'ops.f.address' }, status],
    filters: [search, { name: 'region_code', label: 'ops.f.region_code' }, statusFilter],
    fields: [{ name: 'name', label: 'common.name' }, { name: 'factory_id', label: 'ops.f.factory_id', type: 'ref', ref: `${P}/factories` },
      { name: 'region_code', label: 'ops.f.region_code' }, { name: 'address', label: 'ops.f.address' },
      { name: 'external_id', label: 'ops.f.external_id' }],
    create: `POST ${P}/warehouses`, update: `PATCH ${P}/warehouses/{warehouse_id}`,
    deactivate: `POST ${P}/warehouses/{warehouse_id}/deactivate`, reactivate: `POST ${P}/warehouses/{warehouse_id}/reactivate`,
  },
  materials: {
    path: `${P}/materials`, title: 'ops.tab.materials',
    columns: [{ prop: 'code', label: 'ops.f.code', width: 140 }, { prop: 'name', label: 'common.name' },
      { prop: 'unit', label: 'ops.f.unit', width: 90 }, status],
    filters: [search, { name: 'code', label: 'ops.f.code' }, statusFilter],
    fields: [{ name: 'code', label: 'ops.f.code' }, { name: 'name', label: 'common.name' }, { name: 'unit', label: 'ops.f.unit' },
      { name: 'status', label: 'common.status', type: 'select', options: STATUS }, { name: 'external_id', label: 'ops.f.external_id' }],
    create: `POST ${P}/materials`, update: `PATCH ${P}/materials/{material_id}`,
  },
  suppliers: {
    path: `${P}/suppliers`, title: 'ops.tab.suppliers',
    columns: [{ prop: 'name', label: 'common.name' }, { prop: 'external_id', label: 'ops.f.external_id' }, status,
      { prop: 'created_at', label: 'common.createdAt', format: 'instant', width: 170 }],
    filters: [search, statusFilter],
    fields: [{ name: 'name', label: 'common.name' }, { name: 'status', label: 'common.status', type: 'select', options: STATUS },
      { name: 'external_id', label: 'ops.f.external_id' }],
    create: `POST ${P}/suppliers`, update: `PATCH ${P}/suppliers/{supplier_id}`,
  },
  productionLots: {
    path: `${P}/production-lots`, title: 'menu.productionLots',
    columns: [{ prop: 'lot_no', label: 'ops.f.lot_no', width: 150 }, { prop: 'product_id', label: 'ops.f.product_id', format: named(`${P}/products`) },
      { prop: 'factory_id', label: 'ops.f.factory_id', format: named(`${P}/factories`) },
      { prop: 'line_id', label: 'ops.f.line_id', format: named(`${P}/production-lines`) },
      { prop: 'production_date', label: 'ops.f.production_date', width: 110 }, { prop: 'expiry_date', label: 'ops.f.expiry_date', width: 110 },
      { prop: 'status', label: 'common.status', enumPrefix: 'ops.lotStatus', width: 80 }],
    filters: [{ name: 'lot_no', label: 'ops.f.lot_no' },
      { name: 'status', label: 'common.status', type: 'select', options: [{ value: 'open', label: 'ops.lotStatus.open' }, { value: 'closed', label: 'ops.lotStatus.closed' }] },
      { name: 'produced_from', to: 'produced_to', label: 'ops.f.production_date', type: 'daterange' }],
    fields: [{ name: 'lot_no', label: 'ops.f.lot_no' }, { name: 'product_id', label: 'ops.f.product_id', type: 'ref', ref: `${P}/products` },
      { name: 'factory_id', label: 'ops.f.factory_id', type: 'ref', ref: `${P}/factories` },
      { name: 'line_id', label: 'ops.f.line_id', type: 'ref', ref: `${P}/production-lines` },
      { name: 'production_date', label: 'ops.f.production_date', type: 'date' }, { name: 'expiry_date', label: 'ops.f.expiry_date', type: 'date' },
      { name: 'shift', label: 'ops.f.shift' }, { name: 'external_id', label: 'ops.f.external_id' }],
    create: `POST ${P}/production-lots`, update: `PATCH ${P}/production-lots/{lot_id}`,
  },
  rawMaterialLots: {
    path: `${P}/raw-material-lots`, title: 'menu.rawMaterialLots',
    columns: [{ prop: 'lot_no', label: 'ops.f.lot_no', width: 150 }, { prop: 'material_id', label: 'ops.f.material_id', format: named(`${P}/materials`) },
      { prop: 'supplier_id', label: 'ops.f.supplier_id', format: named(`${P}/suppliers`) },
      { prop: 'quantity', label: 'ops.f.quantity', width: 100 }, { prop: 'received_at', label: 'ops.f.received_at', format: 'instant', width: 170 },
      { prop: 'inspection_result', label: 'ops.f.inspection_result', enumPrefix: 'ops.inspection', width: 100 }],
    filters: [{ name: 'lot_no', label: 'ops.f.lot_no' },
      { name: 'inspection_result', label: 'ops.f.inspection_result', type: 'select', options: ['pending', 'passed', 'failed', 'conditional'].map((r) => ({ value: r, label: `ops.inspection.${r}` })) }],
    fields: [{ name: 'lot_no', label: 'ops.f.lot_no' }, { name: 'material_id', label: 'ops.f.material_id', type: 'ref', ref: `${P}/materials` },
      { name: 'supplier_id', label: 'ops.f.supplier_id', type: 'ref', ref: `${P}/suppliers` },
      { name: 'quantity', label: 'ops.f.quantity', type: 'number' }, { name: 'received_at', label: 'ops.f.received_at', type: 'datetime' },
      { name: 'external_id', label: 'ops.f.external_id' }],
    create: `POST ${P}/raw-material-lots`, update: `PATCH ${P}/raw-material-lots/{raw_lot_id}`,
  },
}
