// What the admin forms share: the API's 422 `errors` laid on the form's fields (webargs nests them by
// location, {json: {field: [messages]}}), so each message shows under the field it is about.
import { reactive } from 'vue'
import { fieldErrors } from '@/apiErrors'
import { showError } from '@/notify'

export function useFieldErrors() {
  const errors = reactive<Record<string, string>>({})

  function clear() {
    for (const key of Object.keys(errors)) delete errors[key]
  }

  /** Show a failed write: each field's messages under it, and the API's message in any case. */
  function fail(error: unknown) {
    clear()
    Object.assign(errors, fieldErrors(error))
    showError(error)
  }

  return { errors, clear, fail }
}
