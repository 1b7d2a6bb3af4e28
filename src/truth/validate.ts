// What a valid event is. The ground truth applies these rules itself, and the simulator's bad
// records each break exactly one of them (src/simulator/bad-records.ts). They restate the
// contract in shared/reference.md and the design notes, in the order they are checked:
//
//  1. The payload is non-empty UTF-8 text holding one JSON value, and that value is an object.
//  2. It has the five fields `bytes`, `timestamp`, `app`, `id`, `antenna_id`. Other fields are
//     allowed and ignored.
//  3. `bytes` and `timestamp` are integer numbers (1.0 and 1e3 count, 1.5 and "12" do not);
//     `app`, `id` and `antenna_id` are strings.
//  4. 0 ≤ bytes ≤ 1e9 (more in one message is absurd, not traffic); a number too large for a
//     double (1e400) is out of range, not of the wrong type.
//  5. `app` is 1 to 64 characters (code points), none of them a control character
//     (U+0000–U+001F, U+007F–U+009F); an escaped unpaired surrogate (\ud800) is not text UTF-8
//     can hold. An app name never seen before is valid traffic.
//  6. `id` and `antenna_id` are UUIDs: 8-4-4-4-12 hexadecimal digits, either case; they count
//     in lower case, so one user is one key however a producer spells it.
//  7. timestamp ≥ 2000-01-01T00:00:00Z (946684800); historic data is valid.
//  8. timestamp ≤ the record's Kafka timestamp + max-future (default 300 s): the record's own
//     time, not the clock, so a replay decides as the first run did.

export interface ValidEvent {
  bytes: number
  timestamp: number
  app: string
  id: string
  antenna_id: string
}

export const INVALID_REASONS = [
  'empty',
  'not-utf8',
  'not-json',
  'not-object',
  'missing-field',
  'wrong-type',
  'bytes-out-of-range',
  'empty-app',
  'app-too-long',
  'app-control-character',
  'not-uuid',
  'timestamp-too-old',
  'timestamp-in-future'
] as const
export type InvalidReason = (typeof INVALID_REASONS)[number]

export type Validation = { ok: true; event: ValidEvent } | { ok: false; reason: InvalidReason; detail: string }

export const MAX_BYTES = 1_000_000_000
export const MIN_TIMESTAMP = 946_684_800
export const MAX_APP_LENGTH = 64
export const DEFAULT_MAX_FUTURE_SECONDS = 300

const FIELDS = ['bytes', 'timestamp', 'app', 'id', 'antenna_id'] as const
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface RecordTime {
  /** The record's Kafka timestamp, epoch seconds: rule 8 is measured from it. */
  recordSeconds: number
  /** Default 300. */
  maxFutureSeconds?: number
}

/** Checks one record payload. */
export function validateEvent(payload: Uint8Array | string, time: RecordTime): Validation {
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
    return invalid(
      'not-object',
      `payload is JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object`
    )
  }
  const fields = value as Record<string, unknown>
  for (const name of FIELDS) {
    if (!Object.hasOwn(fields, name)) return invalid('missing-field', `field ${name} is missing`)
  }
  const { bytes, timestamp, app, id } = fields
  const antennaId = fields.antenna_id
  if (!isWholeNumber(bytes)) return invalid('wrong-type', `bytes must be an integer, got ${show(bytes)}`)
  if (!isWholeNumber(timestamp))
    return invalid('wrong-type', `timestamp must be an integer (epoch seconds), got ${show(timestamp)}`)
  for (const name of ['app', 'id', 'antenna_id'] as const) {
    if (typeof fields[name] !== 'string')
      return invalid('wrong-type', `${name} must be a string, got ${show(fields[name])}`)
  }
  if (!(bytes >= 0 && bytes <= MAX_BYTES))
    return invalid('bytes-out-of-range', `bytes must be between 0 and ${MAX_BYTES}, got ${show(bytes)}`)
  const appProblem = checkApp(app as string)
  if (appProblem !== undefined) return appProblem
  if (!UUID.test(id as string)) return invalid('not-uuid', `id is not a UUID: ${show(id)}`)
  if (!UUID.test(antennaId as string)) return invalid('not-uuid', `antenna_id is not a UUID: ${show(antennaId)}`)
  if (!(timestamp >= MIN_TIMESTAMP))
    return invalid(
      'timestamp-too-old',
      `timestamp must be ${MIN_TIMESTAMP} (2000-01-01) or later, got ${show(timestamp)}`
    )
  const maxFuture = time.maxFutureSeconds ?? DEFAULT_MAX_FUTURE_SECONDS
  if (timestamp - time.recordSeconds > maxFuture) {
    return invalid(
      'timestamp-in-future',
      `timestamp ${show(timestamp)} is more than ${maxFuture} s ahead of the record's Kafka timestamp ${time.recordSeconds}`
    )
  }
  return {
    ok: true,
    event: {
      bytes,
      timestamp,
      app: app as string,
      id: (id as string).toLowerCase(),
      antenna_id: (antennaId as string).toLowerCase()
    }
  }
}

/** An integer, or a number beyond any double (1e400 parses as Infinity), which the range rules reject. */
function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && (Number.isInteger(value) || !Number.isFinite(value))
}

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u

function checkApp(app: string): Validation | undefined {
  if (app === '') return invalid('empty-app', 'app is empty')
  const control = CONTROL.exec(app)
  if (control !== null) {
    const position = Array.from(app.slice(0, control.index)).length + 1
    return invalid(
      'app-control-character',
      `app holds the control character U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at character ${position}`
    )
  }
  if (!app.isWellFormed()) return invalid('not-utf8', 'app holds an unpaired surrogate, which UTF-8 cannot encode')
  const length = Array.from(app).length
  if (length > MAX_APP_LENGTH)
    return invalid('app-too-long', `app has ${length} characters, at most ${MAX_APP_LENGTH} allowed`)
  return undefined
}

function show(value: unknown): string {
  const text =
    typeof value === 'number' && !Number.isFinite(value) ? String(value) : (JSON.stringify(value) ?? String(value))
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`
}

function invalid(reason: InvalidReason, detail: string): Validation {
  return { ok: false, reason, detail }
}
