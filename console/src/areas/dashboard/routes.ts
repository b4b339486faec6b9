import type { RouteRecordRaw } from 'vue-router'

export const routes: RouteRecordRaw[] = [
  {
    path: 'dashboard',
    name: 'dashboard',
    component: () => import('./Dashboard.vue'),
    meta: { area: 'dashboard', title: 'menu.dashboard', operation: 'GET /api/admin/reports/overview', menu: true },
  },
]
