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

export interface TrafficEvent {
  bytes: number
  /** Epoch seconds. */
  timestamp: number
  app: string
  id: string
  antenna_id: string
}

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

const UUID_LENGTH = 36

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

const QUOTE = 0x22
const COMMA = 0x2c
const COLON = 0x3a
const OPEN = 0x7b
const CLOSE = 0x7d
const MAX_DIGITS = 15
// Field ids while scanning; an unknown field is skipped.
const BYTES = 1
const TIMESTAMP = 2
const APP = 4
const ID = 8
const ANTENNA_ID = 16
const ALL_FIELDS = 31

/**
 * The common case without JSON.parse and without a string for the whole payload: one flat
 * object whose values are ASCII strings without escapes or integers of at most 15 digits,
 * each field once, id and antenna_id already UUIDs (checked on the bytes, before any string
 * exists). Anything else (escapes, other characters, other value types, a repeated or
 * missing field, malformed JSON, an id that is not a UUID) returns undefined and goes through
 * decodeJson, so both paths give the same result for every input this one accepts.
 */
function scanEvent(b: Buffer): TrafficEvent | undefined {
  const n = b.length
  let i = skipSpace(b, 0)
  if (i >= n || b[i] !== OPEN) return undefined
  i = skipSpace(b, i + 1)
  let seen = 0
  let bytes = 0
  let timestamp = 0
  let app = ''
  let id = ''
  let antennaId = ''
  for (;;) {
    if (i >= n || b[i] !== QUOTE) return undefined
    const nameStart = i + 1
    const nameEnd = stringEnd(b, nameStart)
    if (nameEnd < 0) return undefined
    const field = fieldOf(b, nameStart, nameEnd - nameStart)
    if ((seen & field) !== 0) return undefined
    seen |= field
    i = skipSpace(b, nameEnd + 1)
    if (i >= n || b[i] !== COLON) return undefined
    i = skipSpace(b, i + 1)
    if (i >= n) return undefined
    const c = b[i]!
    if (c === QUOTE) {
      const end = field === ID || field === ANTENNA_ID ? uuidEnd(b, i + 1) : stringEnd(b, i + 1)
      if (end < 0) return undefined
      if (field === APP) app = asciiString(b, i + 1, end, scannedHash)
      else if (field === ID) id = uuidString(b, i + 1, end)
      else if (field === ANTENNA_ID) antennaId = uuidString(b, i + 1, end)
      else if (field !== 0) return undefined
      i = end + 1
    } else if (c >= 0x30 && c <= 0x39) {
      let value = c - 0x30
      let end = i + 1
      // JSON allows no leading zero.
      if (c !== 0x30) {
        while (end < n && b[end]! >= 0x30 && b[end]! <= 0x39) value = value * 10 + (b[end++]! - 0x30)
      }
      if (end - i > MAX_DIGITS) return undefined
      if (field === BYTES) bytes = value
      else if (field === TIMESTAMP) timestamp = value
      else if (field !== 0) return undefined
      i = end
    } else {
      return undefined
    }
    i = skipSpace(b, i)
    if (i >= n) return undefined
    if (b[i] === COMMA) {
      i = skipSpace(b, i + 1)
      continue
    }
    if (b[i] !== CLOSE) return undefined
    if (skipSpace(b, i + 1) !== n || seen !== ALL_FIELDS) return undefined
    return { bytes, timestamp, app, id, antenna_id: antennaId }
  }
}

// Ids and app names repeat across events: reusing one string per value spares an allocation
// and, since a string caches its hash, the hashing of every map lookup keyed by it downstream.
// Slots are many times the usual thousands of live ids, so that few of them evict each other.
const CACHE_SLOTS = 1 << 15
const CACHE_MAX_LENGTH = 64
const stringCache: Array<string | undefined> = new Array(CACHE_SLOTS)

/** The text of printable ASCII bytes `[start, end)` whose hash is `hash`, shared with earlier events when it repeats. */
function asciiString(b: Buffer, start: number, end: number, hash: number): string {
  const length = end - start
  if (length > CACHE_MAX_LENGTH) return b.toString('latin1', start, end)
  const slot = (hash ^ (hash >>> 15)) & (CACHE_SLOTS - 1)
  const cached = stringCache[slot]
  if (cached !== undefined && cached.length === length) {
    let same = true
    for (let i = 0; i < length; i++) {
      if (cached.charCodeAt(i) !== b[start + i]) {
        same = false
        break
      }
    }
    if (same) return cached
  }
  const text = b.toString('latin1', start, end)
  stringCache[slot] = text
  return text
}

/** A UUID uuidEnd accepted, in lower case. */
function uuidString(b: Buffer, start: number, end: number): string {
  // Upper-case UUIDs are rare: they skip the cache, whose entries match the bytes as they are.
  return scannedUpper ? b.toString('latin1', start, end).toLowerCase() : asciiString(b, start, end, scannedHash)
}

function skipSpace(b: Buffer, i: number): number {
  while (i < b.length) {
    const c = b[i]!
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
    i++
  }
  return i
}

/** Hash of the bytes of the last string stringEnd or uuidEnd scanned, for asciiString. */
let scannedHash = 0
/** Whether the last UUID uuidEnd scanned has an upper-case digit. */
let scannedUpper = false

/**
 * The index of the closing quote of a string starting at `i` (hashing its bytes on the way),
 * or -1 if it holds an escape or a character outside printable ASCII.
 */
function stringEnd(b: Buffer, i: number): number {
  let hash = 0x811c9dc5
  for (; i < b.length; i++) {
    const c = b[i]!
    if (c === QUOTE) {
      scannedHash = hash
      return i
    }
    if (c < 0x20 || c >= 0x7f || c === 0x5c) return -1
    hash = Math.imul(hash ^ c, 0x01000193)
  }
  return -1
}

// Byte classes for uuidEnd: what each of the 36 characters of a UUID must be.
const HEX_DIGIT = 1
const DASH = 2
const BYTE_CLASS = new Uint8Array(256)
for (const c of '0123456789abcdefABCDEF') BYTE_CLASS[c.charCodeAt(0)] = HEX_DIGIT
BYTE_CLASS[0x2d] = DASH
const UUID_SHAPE = Uint8Array.from({ length: UUID_LENGTH }, (_, k) =>
  k === 8 || k === 13 || k === 18 || k === 23 ? DASH : HEX_DIGIT
)

/** Like stringEnd for a string that must be a UUID (8-4-4-4-12 hex digits); -1 if it is anything else. */
function uuidEnd(b: Buffer, i: number): number {
  const end = i + UUID_LENGTH
  if (end >= b.length || b[end] !== QUOTE) return -1
  let hash = 0x811c9dc5
  let upper = false
  for (let k = 0; k < UUID_LENGTH; k++) {
    const c = b[i + k]!
    if (BYTE_CLASS[c] !== UUID_SHAPE[k]) return -1
    if (c >= 0x41 && c <= 0x46) upper = true
    hash = Math.imul(hash ^ c, 0x01000193)
  }
  scannedHash = hash
  scannedUpper = upper
  return end
}

function fieldOf(b: Buffer, start: number, length: number): number {
  switch (length) {
    case 2:
      return b[start] === 0x69 && b[start + 1] === 0x64 ? ID : 0
    case 3:
      return b[start] === 0x61 && b[start + 1] === 0x70 && b[start + 2] === 0x70 ? APP : 0
    case 5:
      return matches(b, start, 'bytes') ? BYTES : 0
    case 9:
      return matches(b, start, 'timestamp') ? TIMESTAMP : 0
    case 10:
      return matches(b, start, 'antenna_id') ? ANTENNA_ID : 0
    default:
      return 0
  }
}

function matches(b: Buffer, start: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) if (b[start + k] !== name.charCodeAt(k)) return false
  return true
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
