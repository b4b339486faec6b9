// How figures read in the console: money is fen in the API, shown as yuan; instants are UTC in the API,
// shown in China time (the business's clock), whatever the browser's zone.
const CHINA = 'Asia/Shanghai'

export function yuan(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return '—'
  return `¥${(fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('zh-CN')
}

/** An instant as the API writes it (UTC; an offset-less one is UTC too). */
function parseUtc(iso: string): Date {
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`)
}

export function instant(iso: string | null | undefined): string {
  if (!iso) return '—'
  return parseUtc(iso).toLocaleString('zh-CN', { timeZone: CHINA, hour12: false })
}

/** A China wall-clock time from a picker ("YYYY-MM-DD HH:mm:ss") as the UTC instant the API takes. */
export function chinaToUtc(local: string | null | undefined): string | undefined {
  if (!local) return undefined
  return new Date(`${local.replace(' ', 'T')}+08:00`).toISOString().replace('.000Z', 'Z')
}

/** A UTC instant from the API as the China wall-clock string the pickers show. */
export function utcToChina(iso: string | null | undefined): string | undefined {
  if (!iso) return undefined
  return new Date(parseUtc(iso).getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ')
}

export function percent(ratio: number | null | undefined, digits = 1): string {
  return ratio === null || ratio === undefined ? '—' : `${(ratio * 100).toFixed(digits)}%`
}

/** Today's China day as YYYY-MM-DD, and the day `days` before it. */
export function chinaDay(offsetDays = 0): string {
  const now = new Date(Date.now() + offsetDays * 86400000)
  return new Intl.DateTimeFormat('en-CA', { timeZone: CHINA }).format(now)
}

/** The UTC instant (ISO 8601) a China day starts, or the day `plusDays` after it starts. */
export function dayStart(day: string, plusDays = 0): string {
  const start = new Date(`${day}T00:00:00+08:00`)
  return new Date(start.getTime() + plusDays * 86400000).toISOString()
}
