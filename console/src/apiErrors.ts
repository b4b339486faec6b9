// The API answers in English; the console speaks the user's language. An error is translated by its
// machine-readable `code` (src/locales/api_errors.json, `apiError.<code>`: tests/console/
// test_api_error_messages.py checks every code the app can answer has one in both languages), and a
// 422's field messages (marshmallow's) by pattern, keeping their numbers and choices. What has no
// translation is shown as the API said it.
import { ApiError } from './api/client'
import { i18n, t } from './i18n'

/** The message for the error's code in the user's language, or undefined when the code has none. */
export function apiMessage(error: ApiError): string | undefined {
  const key = `apiError.${error.code}`
  return i18n.global.te(key) || i18n.global.te(key, 'zh-CN') ? t(key) : undefined
}

type Params = Record<string, string>
// marshmallow's default messages (fields and validators), and the few the app's own fields add.
const PATTERNS: [RegExp, string, (m: RegExpMatchArray) => Params][] = [
  [/^Missing data for required field\.$/, 'required', () => ({})],
  [/^Field may not be null\.$/, 'null', () => ({})],
  [/^Unknown field\.$/, 'unknown', () => ({})],
  [/^Not a valid string\.$/, 'string', () => ({})],
  [/^Not a valid utf-8 string\.$/, 'string', () => ({})],
  [/^Not a valid integer\.$/, 'integer', () => ({})],
  [/^Not a valid number\.$/, 'number', () => ({})],
  [/^Number too large\.$/, 'tooLarge', () => ({})],
  [/^Special numeric values \(nan or infinity\) are not permitted\.$/, 'number', () => ({})],
  [/^Not a valid boolean\.$/, 'boolean', () => ({})],
  [/^Not a valid (?:aware |naive )?datetime\.$/, 'datetime', () => ({})],
  [/^Not a valid date\.$/, 'date', () => ({})],
  [/^Not a valid (?:aware |naive )?time\.$/, 'time', () => ({})],
  [/^Not a valid period of time\.$/, 'period', () => ({})],
  [/^Out of the range of dates\.$/, 'dateRange', () => ({})],
  [/^Not a valid email address\.$/, 'email', () => ({})],
  [/^Not a valid URL\.$/, 'url', () => ({})],
  [/^Not a valid UUID\.$/, 'uuid', () => ({})],
  [/^Not a valid IP(?:v[46])? (?:address|interface)\.$/, 'ip', () => ({})],
  [/^Not a valid list\.$/, 'list', () => ({})],
  [/^Not a valid tuple\.$/, 'list', () => ({})],
  [/^Not a valid mapping type\.$/, 'mapping', () => ({})],
  [/^Invalid (?:input )?type\.$/, 'type', () => ({})],
  [/^Not a valid choice\.$/, 'choice', () => ({})],
  [/^(?:Invalid value|Invalid input)\.$/, 'invalid', () => ({})],
  [/^String does not match expected pattern\.$/, 'pattern', () => ({})],
  [/^Length must be between (\d+) and (\d+)\.$/, 'lengthBetween', (m) => ({ min: m[1], max: m[2] })],
  [/^Shorter than minimum length (\d+)\.$/, 'lengthMin', (m) => ({ min: m[1] })],
  [/^Longer than maximum length (\d+)\.$/, 'lengthMax', (m) => ({ max: m[1] })],
  [/^Length must be (\d+)\.$/, 'lengthEqual', (m) => ({ equal: m[1] })],
  [/^Must be one of: (.*)\.$/s, 'oneOf', (m) => ({ choices: m[1] })],
  [/^One or more of the choices you made was not in: (.*)\.$/s, 'containsOnly', (m) => ({ choices: m[1] })],
  [/^One or more of the choices you made was in: (.*)\.$/s, 'containsNone', (m) => ({ choices: m[1] })],
  [/^Must be equal to (.*)\.$/s, 'equal', (m) => ({ other: m[1] })],
]
// Range's messages: "Must be greater than or equal to 1 and less than 100." and each half alone.
const RANGE = /^Must be (?:(greater than or equal to|greater than) (\S+?))?(?: and )?(?:(less than or equal to|less than) (\S+?))?\.$/
const OPS: Record<string, string> = {
  'greater than or equal to': 'atLeast', 'greater than': 'above', 'less than or equal to': 'atMost', 'less than': 'below',
}
const INT64_MAX = '9223372036854775807' // app/schemas.py's Int: its bound means "too large", not a figure to read

function range(m: RegExpMatchArray): string {
  const [, minOp, min, maxOp, max] = m
  if (max === INT64_MAX && (!minOp || min.startsWith('-9223372036854775808'))) return t('apiField.tooLarge')
  if (minOp === 'greater than or equal to' && maxOp === 'less than or equal to') return t('apiField.between', { min, max })
  const parts = [minOp && t(`apiField.${OPS[minOp]}`, { n: min }), maxOp && t(`apiField.${OPS[maxOp]}`, { n: max })]
  return parts.filter(Boolean).join(t('apiField.and'))
}

/** One field message of a 422 in the user's language; a message no pattern knows stays as the API said it. */
export function fieldMessage(message: string): string {
  for (const [pattern, key, params] of PATTERNS) {
    const match = message.match(pattern)
    if (match) return t(`apiField.${key}`, params(match))
  }
  const match = message.match(RANGE)
  if (match && (match[1] || match[3])) return range(match)
  return message
}

/** A 422's field errors flattened to "field" / "prizes.0.amount" -> "message; message", each in the user's
 *  language (webargs nests them under the location, "json" or "query": that level names no field). A
 *  nested message also stands under its top-level field, for a form that shows errors per field only. */
export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!(error instanceof ApiError) || error.status !== 422) return out
  const put = (path: string[], text: string) => {
    const key = path.join('.') || '_'
    out[key] = out[key] ? `${out[key]}; ${text}` : text
    if (path.length > 1) out[path[0]] ??= text
  }
  const walk = (node: unknown, path: string[]) => {
    if (Array.isArray(node) && node.every((m) => typeof m === 'string')) put(path, node.map(fieldMessage).join('; '))
    else if (Array.isArray(node)) node.forEach((child, i) => walk(child, [...path, String(i)]))
    else if (node && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) walk(child, path.length === 0 && (key === 'json' || key === 'query') ? [] : [...path, key])
    } else if (typeof node === 'string') put(path, fieldMessage(node))
  }
  walk(error.errors, [])
  return out
}
