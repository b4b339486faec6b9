// What the channel and finance screens share: enum options for filters, a note asked for before an
// irreversible action, a file downloaded with the user's token, and the API's 422 errors per field.
import { ElMessageBox } from 'element-plus'
import { getRaw, saveFile } from '@/api/client'
import { t } from '@/i18n'

/** Filter options for an enum: each value labelled by `${prefix}.${value}` (an i18n key). */
export function options(prefix: string, values: readonly string[]) {
  return values.map((value) => ({ value, label: `${prefix}.${value}` }))
}

/** Ask for a confirmation with a note (a resolution, a reason); the note, or null when cancelled. */
export async function confirmWithNote(title: string, message: string, { required = true } = {}): Promise<string | null> {
  try {
    const answer = await ElMessageBox.prompt(message, title, {
      confirmButtonText: t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      inputType: 'textarea',
      inputPlaceholder: t('chn.note'),
      inputValidator: (value: string) => !required || !!value?.trim() || t('chn.noteRequired'),
      customClass: 'note-box',
    })
    return (answer as { value: string }).value.trim()
  } catch {
    return null
  }
}

/** Ask a yes/no confirmation; whether it was confirmed. */
export async function confirmed(title: string, message: string): Promise<boolean> {
  try {
    await ElMessageBox.confirm(message, title, {
      confirmButtonText: t('common.confirm'), cancelButtonText: t('common.cancel'), type: 'warning',
    })
    return true
  } catch {
    return false
  }
}

/** Download a file the API answers (an export, a statement's sheet) under the name it gives. */
export async function downloadFile(path: string, query: Record<string, unknown> = {}, fallback = 'download') {
  await saveFile(await getRaw(path, query), fallback)
}

export { fieldErrors } from '@/apiErrors' // one flattening for every area's forms

/** "dealer:3", "store:1", "warehouse:1" as a reader says it. */
export function holder(kind: string | null | undefined, id: number | null | undefined): string {
  return kind ? `${t(`chn.holder.${kind}`)} #${id ?? '—'}` : '—'
}
