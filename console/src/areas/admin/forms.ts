// What the admin forms share: the API's 422 `errors` laid on the form's fields (webargs nests them by
// location, {json: {field: [messages]}}), so each message shows under the field it is about.
import { reactive } from 'vue'
import { ApiError } from '@/api/client'
import { showError } from '@/notify'

export function useFieldErrors() {
  const errors = reactive<Record<string, string>>({})

  function clear() {
    for (const key of Object.keys(errors)) delete errors[key]
  }

  /** Show a failed write: each field's messages under it, and the API's message in any case. */
  function fail(error: unknown) {
    clear()
    if (error instanceof ApiError && error.status === 422) {
      const fields = (error.errors.json ?? error.errors) as Record<string, unknown>
      for (const [field, messages] of Object.entries(fields ?? {})) errors[field] = flatten(messages).join('; ')
    }
    showError(error)
  }

  return { errors, clear, fail }
}

function flatten(messages: unknown): string[] {
  if (Array.isArray(messages)) return messages.flatMap(flatten)
  if (messages && typeof messages === 'object') return Object.values(messages).flatMap(flatten)
  return [String(messages)]
}
