import type { RouteRecordRaw } from 'vue-router'

// Operations: master data, codes, production, stock, trace and recalls (each screen a chunk of its own).
const meta = (title: string, operation: string, menu = true) => ({ area: 'operations', title, operation, menu })

export const routes: RouteRecordRaw[] = [
  { path: 'operations/products', name: 'products', component: () => import('./Products.vue'), meta: meta('menu.products', 'GET /api/admin/products') },
  { path: 'operations/masterdata', name: 'masterdata', component: () => import('./MasterData.vue'), meta: meta('menu.masterdata', 'GET /api/admin/factories') },
  { path: 'operations/code-batches', name: 'codeBatches', component: () => import('./CodeBatches.vue'), meta: meta('menu.codeBatches', 'GET /api/admin/code-batches') },
  { path: 'operations/production-lots', name: 'productionLots', component: () => import('./ProductionLots.vue'), meta: meta('menu.productionLots', 'GET /api/admin/production-lots') },
  { path: 'operations/raw-material-lots', name: 'rawMaterialLots', component: () => import('./RawMaterialLots.vue'), meta: meta('menu.rawMaterialLots', 'GET /api/admin/raw-material-lots') },
  { path: 'operations/line-sessions', name: 'lineSessions', component: () => import('./LineSessions.vue'), meta: meta('menu.lineSessions', 'GET /api/admin/line-sessions') },
  { path: 'operations/stock', name: 'warehouseStock', component: () => import('./WarehouseStock.vue'), meta: meta('menu.warehouseStock', 'GET /api/admin/stock') },
  { path: 'operations/trace', name: 'trace', component: () => import('./Trace.vue'), meta: meta('menu.trace', 'GET /api/admin/trace/codes/{code}') },
  { path: 'operations/recalls', name: 'recalls', component: () => import('./Recalls.vue'), meta: meta('menu.recalls', 'GET /api/admin/recalls') },
  { path: 'operations/recalls/:id', name: 'recallDetail', component: () => import('./RecallDetail.vue'), meta: meta('ops.recall.detail', 'GET /api/admin/recalls/{recall_id}', false) },
  { path: 'operations/production-report', name: 'productionReport', component: () => import('./ProductionReport.vue'), meta: meta('menu.productionReport', 'GET /api/admin/reports/production') },
]
