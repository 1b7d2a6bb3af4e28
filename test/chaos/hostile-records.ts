// Hostile records, generated from a seed and a valid record: the shapes that stall or corrupt
// naive consumers. Which of them are valid is for the ground truth to say, not this file.
import { createHash } from 'node:crypto'

/** Near the local broker's default `message.max.bytes` (1 MiB), with room for the batch header. */
const NEAR_LIMIT = 1_000_000

type Maker = (n: number, event: Record<string, unknown>, random: () => number) => string | Buffer

const json = (event: Record<string, unknown>, fields: Record<string, unknown>): string =>
  JSON.stringify({ ...event, ...fields })

const MAKERS: Maker[] = [
  // Random bytes, of random length.
  (_, __, random) =>
    Buffer.from(Array.from({ length: 1 + Math.floor(random() * 1500) }, () => Math.floor(random() * 256))),
  // Invalid UTF-8 inside an otherwise valid event, and a truncated multi-byte sequence.
  (_, event) => {
    const [before, after] = json(event, { app: '@@' }).split('@@') as [string, string]
    return Buffer.concat([Buffer.from(before + 'SK'), Buffer.from([0xff, 0xc3]), Buffer.from('PE' + after)])
  },
  () => Buffer.from([0x7b, 0xc3, 0x28, 0x7d]),
  // Control characters: escaped in a string, and raw (not JSON at all).
  (n, event) => json(event, { app: `SKY${String.fromCharCode(n % 32)}PE` }),
  (_, event) => json(event, {}).replace('"app":"', '"app":"\u0001'),
  // Numbers beyond 2^53, beyond a double, negative, fractional.
  (_, event) => json(event, {}).replace(/"bytes":\d+/, '"bytes":9007199254740993'),
  (_, event) => json(event, {}).replace(/"bytes":\d+/, '"bytes":1e400'),
  (_, event) => json(event, {}).replace(/"timestamp":\d+/, '"timestamp":18446744073709551617'),
  (_, event) => json(event, { bytes: -1 }),
  (_, event) => json(event, { bytes: 1.5 }),
  // __proto__ and constructor keys, at the top and inside.
  (_, event) => json(event, {}).replace('{', '{"__proto__":{"bytes":1},'),
  (_, event) => '{"__proto__":' + json(event, {}) + '}',
  (_, event) => json(event, { constructor: { prototype: { bytes: 7 } } }),
  // Deep nesting: arrays, and an object in an extra field.
  () => '['.repeat(50_000) + ']'.repeat(50_000),
  (_, event) => json(event, {}).replace('{', '{"deep":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + ','),
  // Wrong types and missing fields.
  (_, event) => json(event, { id: 42 }),
  (_, event) => json(event, { app: '' }),
  (_, event) => json(event, { antenna_id: 'not-a-uuid' }),
  () => 'null',
  () => '',
  // Upper-case UUIDs: valid, one key with the lower-case spelling.
  (_, event) => json(event, { id: String(event.id).toUpperCase(), antenna_id: String(event.antenna_id).toUpperCase() })
]

/** A payload close to the broker's size limit: valid JSON with an app name far too long. */
export function nearLimit(event: Record<string, unknown>): string {
  const base = json(event, { app: '' }).length
  return json(event, { app: 'A'.repeat(NEAR_LIMIT - base) })
}

/** The n-th hostile record, the same for the same seed. */
export function hostileRecord(seed: string, n: number, valid: Record<string, unknown>): string | Buffer {
  // mulberry32, seeded from the hash of the seed and n.
  let state = createHash('sha256').update(`${seed}:${n}`).digest().readUInt32BE(0)
  const random = (): number => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
  return MAKERS[n % MAKERS.length]!(n, valid, random)
}
