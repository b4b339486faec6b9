// Administration: users with their roles and data scopes, API keys of machine clients, webhook
// endpoints and their deliveries, the audit log, and the approvals of dual control.
import type { RouteRecordRaw } from 'vue-router'

export const routes: RouteRecordRaw[] = [
  {
    path: 'admin/users',
    name: 'users',
    component: () => import('./Users.vue'),
    meta: { area: 'admin', title: 'menu.users', operation: 'GET /api/admin/users', menu: true },
  },
  {
    path: 'admin/api-keys',
    name: 'apiKeys',
    component: () => import('./ApiKeys.vue'),
    meta: { area: 'admin', title: 'menu.apiKeys', operation: 'GET /api/admin/api-keys', menu: true },
  },
  {
    // ?status=failed opens the deliveries that gave up (the dashboard's to-do links here).
    path: 'admin/webhooks',
    name: 'webhooks',
    component: () => import('./Webhooks.vue'),
    meta: { area: 'admin', title: 'menu.webhooks', operation: 'GET /api/admin/webhook-endpoints', menu: true },
  },
  {
    path: 'admin/audit',
    name: 'audit',
    component: () => import('./Audit.vue'),
    meta: { area: 'admin', title: 'menu.audit', operation: 'GET /api/admin/audit', menu: true },
  },
  {
    // ?status=pending: what waits for a second person (the dashboard's to-do links here).
    path: 'admin/approvals',
    name: 'approvals',
    component: () => import('./Approvals.vue'),
    meta: { area: 'admin', title: 'menu.approvals', operation: 'GET /api/admin/approvals', menu: true },
  },
]
