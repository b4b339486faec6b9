import type { RouteRecordRaw } from 'vue-router'

const area = 'marketing'

export const routes: RouteRecordRaw[] = [
  { path: 'marketing/campaigns', name: 'campaigns', component: () => import('./Campaigns.vue'),
    meta: { area, title: 'menu.campaigns', operation: 'GET /api/admin/campaigns', menu: true } },
  { path: 'marketing/campaigns/:id', name: 'campaign', component: () => import('./CampaignDetail.vue'),
    meta: { area, title: 'menu.campaigns', operation: 'GET /api/admin/campaigns/{campaign_id}' } },
  { path: 'marketing/campaign-results', name: 'campaignResults', component: () => import('./CampaignResults.vue'),
    meta: { area, title: 'menu.campaignResults', operation: 'GET /api/admin/reports/campaigns', menu: true } },
  { path: 'marketing/campaign-results/:id', name: 'campaignResult', component: () => import('./CampaignResult.vue'),
    meta: { area, title: 'menu.campaignResults', operation: 'GET /api/admin/reports/campaigns/{campaign_id}' } },
  { path: 'marketing/points-mall', name: 'pointsMall', component: () => import('./PointsMall.vue'),
    meta: { area, title: 'menu.pointsMall', operation: 'GET /api/admin/points/mall/items', menu: true } },
  { path: 'marketing/points-orders', name: 'pointsOrders', component: () => import('./PointsOrders.vue'),
    meta: { area, title: 'menu.pointsOrders', operation: 'GET /api/admin/points/mall/orders', menu: true } },
  { path: 'marketing/consumers', name: 'consumers', component: () => import('./Consumers.vue'),
    meta: { area, title: 'menu.consumers', operation: 'GET /api/admin/consumer-profiles', menu: true } },
  { path: 'marketing/consumers/:id', name: 'consumer', component: () => import('./ConsumerDetail.vue'),
    meta: { area, title: 'menu.consumers', operation: 'GET /api/admin/consumer-profiles/{app_user_id}' } },
  { path: 'marketing/segments', name: 'segments', component: () => import('./Segments.vue'),
    meta: { area, title: 'menu.segments', operation: 'GET /api/admin/reports/consumers/segments', menu: true } },
  { path: 'marketing/blacklist', name: 'blacklist', component: () => import('./Blacklist.vue'),
    meta: { area, title: 'menu.blacklist', operation: 'GET /api/admin/consumer-profiles/blacklist', menu: true } },
  { path: 'marketing/reward-rules', name: 'rewardRules', component: () => import('./RewardRules.vue'),
    meta: { area, title: 'menu.rewardRules', operation: 'GET /api/admin/reward-rules', menu: true } },
  { path: 'marketing/courses', name: 'courses', component: () => import('./Courses.vue'),
    meta: { area, title: 'menu.courses', operation: 'GET /api/admin/courses', menu: true } },
]
