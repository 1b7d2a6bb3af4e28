// The decoder's fast path: the common event read straight from the record's bytes, without
// JSON.parse and without a string for the whole payload. Whatever it does not accept goes
// through JSON.parse in event-codec.ts, which gives the same result for every input this
// accepts (a test holds both to that).
import type { TrafficEvent } from './types.ts'

export const UUID_LENGTH = 36

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
export function scanEvent(b: Buffer): TrafficEvent | undefined {
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
