// The API's 422 errors beside the form fields they name: webargs nests them by location ({json: {field:
// [messages]}}), a domain error names fields directly ({field: [messages]}); nested fields read "a.b".
// Each message in the user's language (fieldMessage).
import { showError } from '@/notify'
import { fieldErrors } from '@/apiErrors'

export { fieldErrors }

/** Show an error: the API's message always, and its field errors into `into` (a form's error map). */
export function formError(error: unknown, into: Record<string, string>) {
  for (const key of Object.keys(into)) delete into[key]
  Object.assign(into, fieldErrors(error))
  showError(error)
}

/** A new Idempotency-Key for one submission of a form (a retried click sends the same one). */
export function newKey(): string {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`
}
