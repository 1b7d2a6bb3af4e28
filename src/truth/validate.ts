// What a valid event is. The ground truth applies these rules itself, and the simulator's bad
// records each break exactly one of them (src/simulator/bad-records.ts). They restate the
// contract in shared/reference.md and the design notes, in the order they are checked:
//
//  1. The payload is non-empty UTF-8 text holding one JSON value, and that value is an object.
//  2. It has the five fields `bytes`, `timestamp`, `app`, `id`, `antenna_id`. Other fields are
//     allowed and ignored.
//  3. `bytes` and `timestamp` are integer numbers (1.0 and 1e3 count, 1.5 and "12" do not);
//     `app`, `id` and `antenna_id` are strings.
//  4. 0 ≤ bytes ≤ 1e9 (more in one message is absurd, not traffic).
//  5. `app` is not empty. An app name never seen before is valid traffic.
//  6. `id` and `antenna_id` are UUIDs: 8-4-4-4-12 hexadecimal digits, either case.
//  7. 2000-01-01T00:00:00Z (946684800) ≤ timestamp ≤ now + 1 day. Historic data is valid.

export interface ValidEvent {
  bytes: number
  timestamp: number
  app: string
  id: string
  antenna_id: string
}

export const INVALID_REASONS = [
  'empty', 'not-utf8', 'not-json', 'not-object', 'missing-field', 'wrong-type',
  'bytes-out-of-range', 'empty-app', 'not-uuid', 'timestamp-out-of-range'
] as const
export type InvalidReason = typeof INVALID_REASONS[number]

export type Validation =
  | { ok: true, event: ValidEvent }
  | { ok: false, reason: InvalidReason, detail: string }

export const MAX_BYTES = 1_000_000_000
export const MIN_TIMESTAMP = 946_684_800
export const MAX_FUTURE_SECONDS = 86_400

const FIELDS = ['bytes', 'timestamp', 'app', 'id', 'antenna_id'] as const
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Checks one record payload; `nowSeconds` is the clock the future limit is measured from. */
export function validateEvent (payload: Uint8Array | string, nowSeconds: number): Validation {
  if (payload.length === 0) return invalid('empty', 'empty payload')
  let text: string
  if (typeof payload === 'string') {
    text = payload
  } else {
    try {
      text = utf8.decode(payload)
    } catch {
      return invalid('not-utf8', 'payload is not UTF-8 text')
    }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return invalid('not-json', 'payload is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid('not-object', `payload is JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object`)
  }
  const fields = value as Record<string, unknown>
  for (const name of FIELDS) {
    if (!Object.hasOwn(fields, name)) return invalid('missing-field', `field ${name} is missing`)
  }
  const { bytes, timestamp, app, id } = fields
  const antennaId = fields.antenna_id
  if (!Number.isInteger(bytes)) return invalid('wrong-type', `bytes must be an integer, got ${JSON.stringify(bytes)}`)
  if (!Number.isInteger(timestamp)) return invalid('wrong-type', `timestamp must be an integer (epoch seconds), got ${JSON.stringify(timestamp)}`)
  for (const name of ['app', 'id', 'antenna_id'] as const) {
    if (typeof fields[name] !== 'string') return invalid('wrong-type', `${name} must be a string, got ${JSON.stringify(fields[name])}`)
  }
  if ((bytes as number) < 0 || (bytes as number) > MAX_BYTES) return invalid('bytes-out-of-range', `bytes must be between 0 and ${MAX_BYTES}, got ${bytes as number}`)
  if (app === '') return invalid('empty-app', 'app is empty')
  if (!UUID.test(id as string)) return invalid('not-uuid', `id is not a UUID: ${JSON.stringify(id)}`)
  if (!UUID.test(antennaId as string)) return invalid('not-uuid', `antenna_id is not a UUID: ${JSON.stringify(antennaId)}`)
  if ((timestamp as number) < MIN_TIMESTAMP || (timestamp as number) > nowSeconds + MAX_FUTURE_SECONDS) {
    return invalid('timestamp-out-of-range', `timestamp must be between ${MIN_TIMESTAMP} (2000-01-01) and a day after now, got ${timestamp as number}`)
  }
  return { ok: true, event: { bytes: bytes as number, timestamp: timestamp as number, app: app as string, id: id as string, antenna_id: antennaId as string } }
}

function invalid (reason: InvalidReason, detail: string): Validation {
  return { ok: false, reason, detail }
}
