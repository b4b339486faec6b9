// Every label in Chinese (the default) and English. Messages live in src/locales/<area>.json, each
// {"zh-CN": {...}, "en": {...}} with the same keys (tests/console/test_locales.py checks): screens of
// one area keep their labels in its file. Element Plus's own texts follow the same switch (App.vue).
import { createI18n } from 'vue-i18n'
import { session } from './session'

type Tree = { [key: string]: string | Tree }
const files = import.meta.glob<{ default: Record<'zh-CN' | 'en', Tree> }>('./locales/*.json', { eager: true })

const messages: Record<'zh-CN' | 'en', Tree> = { 'zh-CN': {}, en: {} }
for (const file of Object.values(files)) {
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
