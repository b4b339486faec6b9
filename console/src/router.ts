// Routes in history mode under /console/. Each area (src/areas/<area>/routes.ts) lists its screens;
// a screen's meta names the API operation it reads (`operation`), so the menu shows it only to roles
// the API allows (x-roles of /openapi.json), and a direct visit by another role lands on a page that
// says which roles it needs. Screens load on demand: each is a chunk of its own.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { session, rolesFor, can, needsNational } from './session'
import { loadMessages } from './i18n'

declare module 'vue-router' {
  interface RouteMeta {
    title?: string // i18n key of the screen's name (the menu's and the page's)
    area?: string // the menu group: dashboard, marketing, operations, channel, finance, admin
    operation?: string // "GET /api/admin/..." the screen needs; decides who sees it
    menu?: boolean // listed in the menu (a detail screen is not)
    public?: boolean // no sign-in (the sign-in page)
  }
}

const areas = import.meta.glob<{ routes: RouteRecordRaw[] }>('./areas/*/routes.ts', { eager: true })
export const screens: RouteRecordRaw[] = Object.values(areas).flatMap((area) => area.routes)

export const AREAS = ['dashboard', 'marketing', 'operations', 'channel', 'finance', 'admin'] as const

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/Login.vue'), meta: { public: true, title: 'login.title' } },
    {
      path: '/',
      component: () => import('./layout/Shell.vue'),
      children: [
        { path: '', redirect: { name: 'dashboard' } },
        ...screens,
        { path: 'forbidden', name: 'forbidden', component: () => import('./views/Forbidden.vue'), meta: { title: 'errors.forbidden' } },
        { path: ':rest(.*)*', name: 'not-found', component: () => import('./views/NotFound.vue'), meta: { title: 'errors.notFound' } },
      ],
    },
  ],
})

router.beforeEach(async (to) => {
  if (to.meta.area && to.meta.area !== 'dashboard') await loadMessages() // the area's labels
  if (to.meta.public) return true
  if (!session.token) return { name: 'login', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (to.meta.operation && !can(to.meta.operation)) {
    const national = needsNational(to.meta.operation) ? { national: '1' } : {}
    return { name: 'forbidden', query: { roles: rolesFor(to.meta.operation).join(','), ...national, from: to.fullPath } }
  }
  return true
})
