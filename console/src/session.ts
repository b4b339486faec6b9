// Who is signed in (token, role, regions) and the language, kept in localStorage across reloads.
import { reactive } from 'vue'
import permissions from './api/permissions.json'
import nationalOnlyOperations from './api/national-only.json'

export type Role = 'admin' | 'marketer' | 'ops' | 'finance' | 'auditor'
export type Lang = 'zh-CN' | 'en'

interface User {
  id: number
  username: string
  role: Role
  regions: string[]
}

const KEY = 'matong.console'
const kept = JSON.parse(localStorage.getItem(KEY) ?? '{}') as { token?: string; expiresAt?: string; user?: User; lang?: Lang }

export const session = reactive({
  token: kept.expiresAt && new Date(kept.expiresAt) > new Date() ? kept.token ?? '' : '',
  expiresAt: kept.expiresAt ?? '',
  user: (kept.user ?? null) as User | null,
  lang: (kept.lang ?? (navigator.language.startsWith('zh') || !navigator.language ? 'zh-CN' : 'en')) as Lang,
})

function keep() {
  localStorage.setItem(KEY, JSON.stringify({ token: session.token, expiresAt: session.expiresAt, user: session.user, lang: session.lang }))
}

export function signIn(token: string, expiresAt: string, user: User) {
  Object.assign(session, { token, expiresAt, user })
  keep()
}

export function signOut() {
  Object.assign(session, { token: '', expiresAt: '', user: null })
  keep()
}

export function setLang(lang: Lang) {
  session.lang = lang
  keep()
}

const allowed = permissions as Record<string, string[]>
const nationalOnly = new Set(nationalOnlyOperations as string[])

/** The roles the API allows for an operation ("POST /api/admin/campaigns"); [] when it is unknown. */
export function rolesFor(operation: string): string[] {
  return allowed[operation] ?? []
}

/** Whether the operation refuses users limited to regions (its rows can't be split by region). */
export function needsNational(operation: string): boolean {
  return nationalOnly.has(operation)
}

/** Whether the signed-in user's role and data scope allow an operation (the API checks again; this only hides). */
export function can(operation: string): boolean {
  return !!session.user && rolesFor(operation).includes(session.user.role) && (national() || !needsNational(operation))
}

/** Whether the user sees the whole country (no regions in their data scope). */
export function national(): boolean {
  return !session.user || session.user.regions.length === 0
}
