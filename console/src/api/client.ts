// The one way the console talks to the API: openapi-fetch over the types generated from /openapi.json
// (src/api/schema.d.ts, made by `npm run types` in the build), so a renamed field breaks the build.
// Every answer that is not 2xx becomes an ApiError carrying the API's code and message; a 401 ends the
// session and returns to sign-in.
import createClient, { type Middleware } from 'openapi-fetch'
import type { paths } from './schema'
import { session, signOut } from '@/session'
import { router } from '@/router'

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public errors: Record<string, unknown> = {},
  ) {
    super(message)
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    if (session.token) request.headers.set('Authorization', `Bearer ${session.token}`)
    request.headers.set('Accept-Language', session.lang)
    return request
  },
  async onResponse({ response }) {
    if (response.status === 401 && session.token) {
      signOut()
      const here = router.currentRoute.value
      if (here.name !== 'login') router.push({ name: 'login', query: { next: here.fullPath } })
    }
    return response
  },
}

export const api = createClient<paths>({ baseUrl: '' })
api.use(auth)

/** The API's error body as an ApiError (its `code` and human `message`), or a generic one. */
export async function errorOf(response: Response, parsed?: unknown): Promise<ApiError> {
  // openapi-fetch has read the body already (its `error`): a second read of it would throw.
  let body = (parsed && typeof parsed === 'object' ? parsed : {}) as { code?: string; message?: string; errors?: Record<string, unknown> }
  if (parsed === undefined) {
    try {
      body = await response.clone().json()
    } catch {
      /* not JSON: a proxy's page */
    }
  }
  return new ApiError(response.status, body.code ?? `http_${response.status}`,
    body.message ?? `${response.status} ${response.statusText}`, body.errors ?? {})
}

/** Unwrap an openapi-fetch answer: its data, or throw the API's error. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call
  if (!response.ok) throw await errorOf(response, error)
  return data as T
}

/** A GET of any back-office path with the caller's token (lists, exports): the raw Response. */
export async function getRaw(path: string, query: Record<string, unknown> = {}): Promise<Response> {
  const url = new URL(path, window.location.origin)
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(one))
  }
  const headers: Record<string, string> = { 'Accept-Language': session.lang }
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  const response = await fetch(url, { headers })
  if (response.status === 401) await auth.onResponse!({ response } as never)
  if (!response.ok) throw await errorOf(response)
  return response
}

/** A JSON GET of any back-office path, with the list's paging header when it has one. */
export async function getJson<T = unknown>(path: string, query: Record<string, unknown> = {}) {
  const response = await getRaw(path, query)
  const paging = response.headers.get('X-Pagination')
  return { data: (await response.json()) as T, paging: paging ? (JSON.parse(paging) as Paging) : undefined }
}

/** A JSON write (POST, PUT, PATCH, DELETE) to any back-office path; retried writes carry one Idempotency-Key. */
export async function send<T = unknown>(method: string, path: string, body?: unknown, idempotencyKey?: string) {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Accept-Language': session.lang }
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (response.status === 401) await auth.onResponse!({ response } as never)
  if (!response.ok) throw await errorOf(response)
  return (response.status === 204 ? undefined : await response.json()) as T
}

export interface Paging {
  total: number
  total_pages: number
  page: number
  first_page?: number
  last_page?: number
  previous_page?: number
  next_page?: number
}

/** Save a file the API answered (an export, a code pack, a statement's sheet) under the name its
 *  Content-Disposition gives, or `fallback`. */
export async function saveFile(response: Response, fallback: string): Promise<void> {
  const disposition = response.headers.get('Content-Disposition') ?? ''
  const name = /filename\*?=(?:UTF-8'')?"?([^";]+)/i.exec(disposition)?.[1] ?? fallback
  const link = document.createElement('a')
  link.href = URL.createObjectURL(await response.blob())
  link.download = decodeURIComponent(name)
  document.body.appendChild(link)
  link.click()
  link.remove()
  window.setTimeout(() => URL.revokeObjectURL(link.href), 10000) // the download has started by then
}
