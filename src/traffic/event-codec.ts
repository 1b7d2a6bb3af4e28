// The antenna event: the one schema every valid record must match, and its decoder. Any
// JSON producer's form is accepted (field order, whitespace, escapes); the rules, in the order
// they are checked (the ground truth checks the same, in src/truth/validate.ts):
//   - the whole record is UTF-8 text holding one JSON object with the fields bytes,
//     timestamp, app, id, antenna_id (others ignored);
//   - bytes and timestamp integers, 0 ≤ bytes ≤ 1e9 (1e400 is a number out of range);
//   - app a string of 1 to 64 characters (code points), no control character (U+0000–U+001F,
//     U+007F–U+009F) and no unpaired surrogate; unknown apps are valid traffic;
//   - id and antenna_id UUIDs in either case, lower-cased (ABC… and abc… are one key);
//   - timestamp (epoch seconds) from 2000-01-01, and at most `maxFutureSeconds` ahead of the
//     record's own Kafka timestamp (checkEventTime): not the wall clock, so that a replay
//     decides exactly as the first run did.
// A record that breaks one is rejected with a reason code (for metrics and dead-letter headers)
// and a message.
import { RecordRejected } from '../topology/index.ts'
import { scanEvent, UUID_LENGTH } from './event-scan.ts'
import type { TrafficEvent } from './types.ts'

export type { TrafficEvent } from './types.ts'

export const REJECT_REASONS = [
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
export type RejectReason = (typeof REJECT_REASONS)[number]

export class EventRejected extends RecordRejected {
  declare readonly reason: RejectReason

  constructor(reason: RejectReason, message: string) {
    super(reason, message)
    this.name = 'EventRejected'
  }
}

export const MAX_EVENT_BYTES = 1_000_000_000
export const MIN_TIMESTAMP = 946_684_800
export const MAX_APP_CHARACTERS = 64
export const DEFAULT_MAX_FUTURE_SECONDS = 300

/**
 * Decodes and validates one record value, all rules but the one on the future
 * (checkEventTime, which needs the record's Kafka timestamp); throws EventRejected.
 */
export function decodeEvent(bytes: Buffer): TrafficEvent {
  if (bytes.length === 0) throw new EventRejected('empty', 'empty payload')
  const scanned = scanEvent(bytes)
  return scanned === undefined ? check(decodeJson(bytes)) : checkScanned(scanned)
}

/** The same as decodeEvent through JSON.parse alone: the reference its fast path must agree with. */
export function decodeEventGeneric(bytes: Buffer): TrafficEvent {
  if (bytes.length === 0) throw new EventRejected('empty', 'empty payload')
  return check(decodeJson(bytes))
}

/**
 * The event time in epoch ms, once the last rule holds: at most `maxFutureSeconds` ahead of
 * the record's Kafka timestamp (`recordTimestampMs`); throws EventRejected.
 */
export function checkEventTime(event: TrafficEvent, recordTimestampMs: number, maxFutureSeconds: number): number {
  const ahead = event.timestamp - Math.floor(recordTimestampMs / 1000)
  if (ahead > maxFutureSeconds) {
    throw new EventRejected(
      'timestamp-in-future',
      `timestamp ${event.timestamp} is ${ahead} s ahead of the record's Kafka timestamp ${Math.floor(recordTimestampMs / 1000)}, at most ${maxFutureSeconds} s allowed`
    )
  }
  return event.timestamp * 1000
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function decodeJson(bytes: Buffer): TrafficEvent {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new EventRejected('not-utf8', 'payload is not UTF-8 text')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new EventRejected('not-json', 'payload is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new EventRejected(
      'not-object',
      `payload is JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object`
    )
  const fields = value as Record<string, unknown>
  for (const name of ['bytes', 'timestamp', 'app', 'id', 'antenna_id']) {
    if (!Object.hasOwn(fields, name)) throw new EventRejected('missing-field', `field ${name} is missing`)
  }
  for (const name of ['bytes', 'timestamp']) {
    // A number too large for a double (1e400) parses as Infinity: a range problem, not a type one.
    const number = fields[name]
    if (typeof number !== 'number' || (Number.isFinite(number) && !Number.isInteger(number)))
      throw new EventRejected('wrong-type', `${name} must be an integer, got ${describe(number)}`)
  }
  for (const name of ['app', 'id', 'antenna_id']) {
    if (typeof fields[name] !== 'string')
      throw new EventRejected('wrong-type', `${name} must be a string, got ${describe(fields[name])}`)
  }
  return {
    bytes: fields.bytes as number,
    timestamp: fields.timestamp as number,
    app: fields.app as string,
    id: fields.id as string,
    antenna_id: fields.antenna_id as string
  }
}

function check(event: TrafficEvent): TrafficEvent {
  checkBytes(event)
  checkApp(event.app)
  if (!isUuid(event.id)) throw new EventRejected('not-uuid', `id is not a UUID: ${describe(event.id)}`)
  if (!isUuid(event.antenna_id))
    throw new EventRejected('not-uuid', `antenna_id is not a UUID: ${describe(event.antenna_id)}`)
  event.id = event.id.toLowerCase()
  event.antenna_id = event.antenna_id.toLowerCase()
  return checkOld(event)
}

/** check for what scanEvent read: printable ASCII apps, UUIDs already checked and lower-cased. */
function checkScanned(event: TrafficEvent): TrafficEvent {
  checkBytes(event)
  if (event.app === '') throw new EventRejected('empty-app', 'app is empty')
  if (event.app.length > MAX_APP_CHARACTERS) throw tooLong(event.app.length)
  return checkOld(event)
}

function checkBytes(event: TrafficEvent): void {
  if (!(event.bytes >= 0 && event.bytes <= MAX_EVENT_BYTES))
    throw new EventRejected(
      'bytes-out-of-range',
      `bytes must be between 0 and ${MAX_EVENT_BYTES}, got ${describe(event.bytes)}`
    )
}

/** 1 to 64 code points, none a control character or an unpaired surrogate (checked in that order). */
function checkApp(app: string): void {
  if (app === '') throw new EventRejected('empty-app', 'app is empty')
  let characters = 0
  let unpaired = false
  for (let i = 0; i < app.length; i++) {
    const c = app.charCodeAt(i)
    characters++
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) {
      throw new EventRejected(
        'app-control-character',
        `app holds the control character U+${c.toString(16).toUpperCase().padStart(4, '0')} at character ${characters}`
      )
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = app.charCodeAt(i + 1)
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++
      else unpaired = true
    }
  }
  if (unpaired) throw new EventRejected('not-utf8', 'app holds an unpaired surrogate, which UTF-8 cannot encode')
  if (characters > MAX_APP_CHARACTERS) throw tooLong(characters)
}

function tooLong(characters: number): EventRejected {
  return new EventRejected('app-too-long', `app has ${characters} characters, at most ${MAX_APP_CHARACTERS} allowed`)
}

function checkOld(event: TrafficEvent): TrafficEvent {
  if (!(event.timestamp >= MIN_TIMESTAMP))
    throw new EventRejected(
      'timestamp-too-old',
      `timestamp must be ${MIN_TIMESTAMP} (2000-01-01) or later, got ${describe(event.timestamp)}`
    )
  return event
}

/** A value for a message: JSON, but numbers JSON cannot write (Infinity) as they are, and at most 80 characters. */
function describe(value: unknown): string {
  return typeof value === 'number' && !Number.isFinite(value)
    ? String(value)
    : excerpt(JSON.stringify(value) ?? String(value))
}

function excerpt(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`
}
/** 8-4-4-4-12 hexadecimal digits, either case. */
function isUuid(text: string): boolean {
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
