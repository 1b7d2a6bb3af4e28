// The antenna event: the one schema every valid record must match, and its decoder. Any
// JSON producer's form is accepted (field order, whitespace, escapes); the rules are:
//   - one JSON object with the fields bytes, timestamp, app, id, antenna_id (others ignored);
//   - bytes and timestamp integers, 0 ≤ bytes ≤ 1e9;
//   - timestamp (epoch seconds) from 2000-01-01 to one day after the wall clock;
//   - app a non-empty string (unknown apps are valid traffic);
//   - id and antenna_id UUIDs.
// A record that breaks one is rejected with a reason code (for metrics) and a message.

export interface TrafficEvent {
  bytes: number
  /** Epoch seconds. */
  timestamp: number
  app: string
  id: string
  antenna_id: string
}

export const REJECT_REASONS = ['empty', 'not-json', 'not-object', 'missing-field', 'wrong-type', 'bytes-out-of-range', 'empty-app', 'not-uuid', 'timestamp-out-of-range'] as const
export type RejectReason = typeof REJECT_REASONS[number]

export class EventRejected extends Error {
  readonly reason: RejectReason

  constructor (reason: RejectReason, message: string) {
    super(`${reason}: ${message}`)
    this.name = 'EventRejected'
    this.reason = reason
  }
}

export const MAX_EVENT_BYTES = 1_000_000_000
export const MIN_TIMESTAMP = 946_684_800
export const MAX_AHEAD_SECONDS = 86_400

const UUID_LENGTH = 36

/** Decodes and validates one record value; throws EventRejected. */
export function decodeEvent (bytes: Buffer, nowSeconds: number): TrafficEvent {
  if (bytes.length === 0) throw new EventRejected('empty', 'empty payload')
  return check(decodeJson(bytes), nowSeconds)
}

function decodeJson (bytes: Buffer): TrafficEvent {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new EventRejected('not-json', 'payload is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EventRejected('not-object', 'payload is not a JSON object')
  const fields = value as Record<string, unknown>
  for (const name of ['bytes', 'timestamp', 'app', 'id', 'antenna_id']) {
    if (!Object.hasOwn(fields, name)) throw new EventRejected('missing-field', `field ${name} is missing`)
  }
  for (const name of ['bytes', 'timestamp']) {
    if (!Number.isInteger(fields[name])) throw new EventRejected('wrong-type', `${name} must be an integer, got ${JSON.stringify(fields[name])}`)
  }
  for (const name of ['app', 'id', 'antenna_id']) {
    if (typeof fields[name] !== 'string') throw new EventRejected('wrong-type', `${name} must be a string, got ${JSON.stringify(fields[name])}`)
  }
  return { bytes: fields.bytes as number, timestamp: fields.timestamp as number, app: fields.app as string, id: fields.id as string, antenna_id: fields.antenna_id as string }
}

function check (event: TrafficEvent, nowSeconds: number): TrafficEvent {
  if (event.bytes < 0 || event.bytes > MAX_EVENT_BYTES) throw new EventRejected('bytes-out-of-range', `bytes must be between 0 and ${MAX_EVENT_BYTES}, got ${event.bytes}`)
  if (event.app === '') throw new EventRejected('empty-app', 'app is empty')
  if (!isUuid(event.id)) throw new EventRejected('not-uuid', `id is not a UUID: ${JSON.stringify(event.id)}`)
  if (!isUuid(event.antenna_id)) throw new EventRejected('not-uuid', `antenna_id is not a UUID: ${JSON.stringify(event.antenna_id)}`)
  if (event.timestamp < MIN_TIMESTAMP || event.timestamp > nowSeconds + MAX_AHEAD_SECONDS) {
    throw new EventRejected('timestamp-out-of-range', `timestamp must be from 2000-01-01 to a day from now, got ${event.timestamp}`)
  }
  return event
}

/** 8-4-4-4-12 hexadecimal digits, either case. */
function isUuid (text: string): boolean {
  if (text.length !== UUID_LENGTH) return false
  for (let i = 0; i < UUID_LENGTH; i++) {
    const c = text.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) {
      return false
    }
  }
  return true
}
