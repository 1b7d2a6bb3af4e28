// Malformed records of every kind a real feed carries. Each kind breaks exactly one rule of
// src/truth/validate.ts, so a test can tell which rule a record must trip; the variants inside
// a kind are the shapes real producers get wrong.
import { type Random } from './random.ts'

export const BAD_KINDS = [
  'truncated-json', // the line was cut: a partial write or a split buffer
  'not-json', // text that was never JSON (key=value logs, CSV)
  'not-object', // valid JSON, but an array, a string, a number or null
  'wrong-type', // a field of the wrong JSON type, or a non-integer number
  'missing-field', // one of the five fields absent
  'negative-bytes',
  'huge-bytes', // more than 1e9 bytes in one message
  'empty-app',
  'long-app', // more than 64 characters: a log line or a stack trace in the app field
  'control-app', // a control character in the app name (NUL, tab, DEL, NEL)
  'not-utf8-app', // bytes that are not UTF-8 inside the app name, or an escaped lone surrogate
  'bad-id', // id or antenna_id not a UUID
  'old-timestamp', // before 2000-01-01
  'future-timestamp', // milliseconds instead of seconds, or decades ahead
  'empty-payload', // zero bytes
  'binary-payload' // bytes that are not UTF-8 text
] as const
export type BadKind = (typeof BAD_KINDS)[number]

/** The event a bad record was made from (its fields in reference order). */
export interface EventFields {
  bytes: number
  timestamp: number
  app: string
  id: string
  antenna_id: string
}

const FIELDS = ['bytes', 'timestamp', 'app', 'id', 'antenna_id'] as const
const YEAR_2100 = 4_102_444_800

export function badRecord(kind: BadKind, event: EventFields, random: Random): string | Buffer {
  switch (kind) {
    case 'truncated-json': {
      const json = toJson(event)
      // Cutting anywhere before the closing brace leaves an unfinished object.
      return json.slice(0, 1 + random.int(json.length - 1))
    }
    case 'not-json':
      return random.chance(0.5)
        ? `bytes=${event.bytes} timestamp=${event.timestamp} app=${event.app} id=${event.id} antenna_id=${event.antenna_id}`
        : `${event.bytes};${event.timestamp};${event.app};${event.id};${event.antenna_id}`
    case 'not-object':
      return random.pick([
        () => JSON.stringify([event.bytes, event.timestamp, event.app, event.id, event.antenna_id]),
        () => JSON.stringify(toJson(event)),
        () => String(event.bytes),
        () => 'null'
      ])()
    case 'wrong-type':
      return toJson(
        event,
        random.pick<Partial<Record<keyof EventFields, unknown>>>([
          { bytes: String(event.bytes) },
          { bytes: event.bytes + 0.5 },
          { bytes: true },
          { timestamp: new Date(event.timestamp * 1000).toISOString() },
          { timestamp: String(event.timestamp) },
          { timestamp: event.timestamp + 0.25 },
          { app: 42 },
          { app: [event.app] },
          { id: null },
          { antenna_id: 7 }
        ])
      )
    case 'missing-field': {
      const missing = random.pick(FIELDS)
      return toJson(event, { [missing]: undefined })
    }
    case 'negative-bytes':
      return toJson(event, { bytes: -1 - random.int(9999) })
    case 'huge-bytes':
      return toJson(event, { bytes: 1_000_000_001 + random.int(1e12) })
    case 'empty-app':
      return toJson(event, { app: '' })
    case 'long-app':
      return toJson(event, { app: event.app + random.pick(['X', 'é', '€', '😀']).repeat(65 + random.int(4000)) })
    case 'control-app': {
      const app = event.app
      const at = random.int(app.length + 1)
      return toJson(event, {
        app: app.slice(0, at) + random.pick(['\u0000', '\t', '\u007f', '\u0085', '\u001b']) + app.slice(at)
      })
    }
    case 'not-utf8-app': {
      if (random.chance(0.5))
        return toJson(event, { app: 'APP' }).replace('"APP"', `"${event.app.slice(0, 2)}\\ud800${event.app.slice(2)}"`)
      const [before, after] = toJson(event, { app: 'APP' }).split('APP') as [string, string]
      // A Latin-1 é (0xE9) or a cut multi-byte sequence: what a producer with the wrong encoding sends.
      return Buffer.concat([
        Buffer.from(before + event.app.slice(0, 2)),
        Buffer.from(random.pick([[0xe9], [0xc3, 0x28], [0xe2, 0x82]])),
        Buffer.from(event.app.slice(2) + after)
      ])
    }
    case 'bad-id': {
      const field = random.chance(0.5) ? 'id' : 'antenna_id'
      const uuid = event[field]
      return toJson(event, {
        [field]: random.pick([
          `user-${random.int(100000)}`,
          uuid.slice(0, -1), // one digit short
          uuid.replaceAll('-', ''), // no dashes
          `z${uuid.slice(1)}`, // not hexadecimal
          ''
        ])
      })
    }
    case 'old-timestamp':
      return toJson(event, { timestamp: random.int(946_684_800) })
    case 'future-timestamp':
      return toJson(event, {
        timestamp: random.chance(0.5) ? event.timestamp * 1000 : YEAR_2100 + random.int(1e9)
      })
    case 'empty-payload':
      return ''
    case 'binary-payload': {
      const bytes = Buffer.allocUnsafe(1 + random.int(200))
      for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(256)
      // 0xFF never occurs in UTF-8, so the payload can never be mistaken for text.
      bytes[random.int(bytes.length)] = 0xff
      return bytes
    }
  }
}

/** The compact JSON of the reference, in its field order, with some fields replaced or removed. */
export function toJson(event: EventFields, overrides: Partial<Record<keyof EventFields, unknown>> = {}): string {
  const fields: Record<string, unknown> = {}
  for (const name of FIELDS) {
    const value = name in overrides ? overrides[name] : event[name]
    if (value !== undefined) fields[name] = value
  }
  return JSON.stringify(fields)
}
