// Errors in the user's language: the message for the API's code (apiErrors.ts), with the API's own
// message in small print below when it says more (a field, a number), and the code for support. A
// code the console has no message for shows the API's message as it is.
import { h } from 'vue'
import { ElMessage } from 'element-plus'
import { ApiError } from './api/client'
import { apiMessage } from './apiErrors'
import { loadMessages, t } from './i18n'

export function showError(error: unknown) {
  if (error instanceof ApiError) void loadMessages().finally(() => showApiError(error)) // the codes' messages
  else if (error instanceof TypeError) ElMessage({ type: 'error', message: t('errors.network'), showClose: true })
  else ElMessage({ type: 'error', message: String(error), showClose: true })
}

function showApiError(error: ApiError) {
  const said = apiMessage(error)
  const details = said && said !== error.message ? `${error.message} · ${error.code}` : error.code
  ElMessage({
    type: 'error', showClose: true, duration: 8000,
    message: h('div', { 'data-test': 'api-error' }, [
      h('div', { 'data-test': 'api-error-message' }, said ?? error.message),
      h('div', { 'data-test': 'api-error-details', style: 'margin-top: 4px; font-size: 12px; opacity: 0.75' }, details),
    ]),
  })
}

export function showDone(message?: string) {
  ElMessage({ type: 'success', message: message ?? t('common.done') })
}
