// Every label in Chinese (the default) and English. Messages live in src/locales/<area>.json, each
// {"zh-CN": {...}, "en": {...}} with the same keys (tests/console/test_locales.py checks): screens of
// one area keep their labels in its file. Element Plus's own texts follow the same switch (App.vue).
// What sign-in and the dashboard show (core, dashboard) comes with the app; the areas' labels and the
// API's error messages load on the first screen or error that needs them (loadMessages), so the first
// page carries none of them.
import { createI18n } from 'vue-i18n'
import { session } from './session'

type Tree = { [key: string]: string | Tree }
type File = Record<'zh-CN' | 'en', Tree>
const eager = import.meta.glob<{ default: File }>(['./locales/core.json', './locales/dashboard.json'], { eager: true })
const later = import.meta.glob<{ default: File }>(['./locales/*.json', '!./locales/core.json', '!./locales/dashboard.json'])

const messages: File = { 'zh-CN': {}, en: {} }
for (const file of Object.values(eager)) {
  for (const lang of ['zh-CN', 'en'] as const) Object.assign(messages[lang], file.default[lang])
}

export const i18n = createI18n({
  legacy: false,
  locale: session.lang,
  fallbackLocale: 'zh-CN',
  messages,
  missingWarn: false,
  fallbackWarn: false,
})

export const t = i18n.global.t

let loading: Promise<void> | undefined

/** Load every other locale file (the areas' labels, the API's error messages), once. */
export function loadMessages(): Promise<void> {
  loading ??= Promise.all(Object.values(later).map((load) => load())).then((files) => {
    for (const file of files) {
      for (const lang of ['zh-CN', 'en'] as const) i18n.global.mergeLocaleMessage(lang, file.default[lang])
    }
  })
  return loading
}
