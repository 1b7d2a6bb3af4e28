// Times on the command line are UTC: `2026-11-01`, `2026-11-01T06:00`, `2026-11-01T06:00:00Z`
// or with an explicit offset. A time without a zone is read as UTC, never as local time.
import { UsageError } from '../lib/errors.ts'

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** Parses an ISO 8601 time to epoch seconds (rounded down). */
export function parseUtcSeconds(name: string, raw: string): number {
  const text = raw.trim()
  if (!ISO.test(text))
    throw new UsageError(`${name} must be an ISO 8601 time such as 2026-11-01T06:00:00Z, got '${raw}'`)
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(text) && text.includes('T')
  const ms = Date.parse(text.includes('T') && !hasZone ? `${text}Z` : text)
  if (Number.isNaN(ms)) throw new UsageError(`${name} is not a valid time: '${raw}'`)
  return Math.floor(ms / 1000)
}
