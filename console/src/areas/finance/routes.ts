// Finance: payouts (in doubt, held, failed) and their incidents, the daily reconciliations with WeChat
// Pay, clerks' withdrawals, the rate at which clerks turn points into cash, and the user's export files. Rebate statements live under channel (one route,
// 'rebateStatements', that finance reaches from its menu too).
import type { RouteRecordRaw } from 'vue-router'

const area = 'finance'

export const routes: RouteRecordRaw[] = [
  { path: 'finance/payouts', name: 'payouts', component: () => import('./Payouts.vue'),
    meta: { area, title: 'menu.payouts', operation: 'GET /api/admin/payouts', menu: true } },
  { path: 'finance/payouts/:id', name: 'payout', component: () => import('./PayoutDetail.vue'),
    meta: { area, title: 'menu.payouts', operation: 'GET /api/admin/payouts/{payout_id}' } },
  { path: 'finance/reconciliation', name: 'reconciliation', component: () => import('./Reconciliation.vue'),
    meta: { area, title: 'menu.reconciliation', operation: 'GET /api/admin/payouts/reconciliations', menu: true } },
  { path: 'finance/withdrawals', name: 'withdrawals', component: () => import('./Withdrawals.vue'),
    meta: { area, title: 'menu.withdrawals', operation: 'GET /api/admin/retail/withdrawals', menu: true } },
  { path: 'finance/points-cash', name: 'pointsCash', component: () => import('./PointsCash.vue'),
    meta: { area, title: 'menu.pointsCash', operation: 'GET /api/admin/retail/points-cash-rates', menu: true } },
  { path: 'finance/exports', name: 'exports', component: () => import('./Exports.vue'),
    meta: { area, title: 'menu.exports', operation: 'GET /api/admin/exports', menu: true } },
]
