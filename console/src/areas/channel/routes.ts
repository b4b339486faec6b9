// Channel: dealers and their territories, stores, invitations, orders, shipments, diversion alerts and
// dealer rebate statements. Each list reads one API operation; details are pages of their own.
import type { RouteRecordRaw } from 'vue-router'

const area = 'channel'

export const routes: RouteRecordRaw[] = [
  { path: 'channel/dealers', name: 'dealers', component: () => import('./Dealers.vue'),
    meta: { area, title: 'menu.dealers', operation: 'GET /api/admin/dealers', menu: true } },
  { path: 'channel/dealers/:id', name: 'dealer', component: () => import('./DealerDetail.vue'),
    meta: { area, title: 'menu.dealers', operation: 'GET /api/admin/dealers/{dealer_id}' } },
  { path: 'channel/stores', name: 'stores', component: () => import('./Stores.vue'),
    meta: { area, title: 'menu.stores', operation: 'GET /api/admin/stores', menu: true } },
  { path: 'channel/stores/:id', name: 'store', component: () => import('./StoreDetail.vue'),
    meta: { area, title: 'menu.stores', operation: 'GET /api/admin/stores/{store_id}' } },
  { path: 'channel/invitations', name: 'invitations', component: () => import('./Invitations.vue'),
    meta: { area, title: 'menu.invitations', operation: 'GET /api/admin/invitations', menu: true } },
  { path: 'channel/invitations/:id', name: 'invitation', component: () => import('./InvitationDetail.vue'),
    meta: { area, title: 'menu.invitations', operation: 'GET /api/admin/invitations/{invitation_id}' } },
  { path: 'channel/orders', name: 'orders', component: () => import('./Orders.vue'),
    meta: { area, title: 'menu.orders', operation: 'GET /api/admin/orders', menu: true } },
  { path: 'channel/orders/:id', name: 'order', component: () => import('./OrderDetail.vue'),
    meta: { area, title: 'menu.orders', operation: 'GET /api/admin/orders/{order_id}' } },
  { path: 'channel/shipments', name: 'shipments', component: () => import('./Shipments.vue'),
    meta: { area, title: 'menu.shipments', operation: 'GET /api/admin/shipments', menu: true } },
  { path: 'channel/shipments/:id', name: 'shipment', component: () => import('./ShipmentDetail.vue'),
    meta: { area, title: 'menu.shipments', operation: 'GET /api/admin/shipments/{shipment_id}' } },
  { path: 'channel/diversion', name: 'diversion', component: () => import('./Diversion.vue'),
    meta: { area, title: 'menu.diversion', operation: 'GET /api/admin/diversion-alerts', menu: true } },
  { path: 'channel/diversion/:id', name: 'diversionAlert', component: () => import('./DiversionDetail.vue'),
    meta: { area, title: 'menu.diversion', operation: 'GET /api/admin/diversion-alerts/{alert_id}' } },
  { path: 'channel/rebate-statements', name: 'rebateStatements', component: () => import('./RebateStatements.vue'),
    meta: { area, title: 'menu.rebateStatements', operation: 'GET /api/admin/rebate-statements', menu: true } },
  { path: 'channel/rebate-statements/:id', name: 'rebateStatement', component: () => import('./RebateStatementDetail.vue'),
    meta: { area, title: 'menu.rebateStatements', operation: 'GET /api/admin/rebate-statements/{statement_id}' } },
]
