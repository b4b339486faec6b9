// Errors are shown as the API says them (its message; the code in small print for support).
import { ElMessage } from 'element-plus'
import { ApiError } from './api/client'
import { t } from './i18n'

export function showError(error: unknown) {
  if (error instanceof ApiError) {
    ElMessage({ type: 'error', message: `${error.message} (${error.code})`, showClose: true, duration: 6000 })
  } else if (error instanceof TypeError) {
    ElMessage({ type: 'error', message: t('errors.network'), showClose: true })
  } else {
    ElMessage({ type: 'error', message: String(error), showClose: true })
  }
}

export function showDone(message?: string) {
  ElMessage({ type: 'success', message: message ?? t('common.done') })
}
