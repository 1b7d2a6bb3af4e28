// Serializes simulated records. A valid event becomes the reference's compact JSON,
//   {"bytes":9082,"timestamp":1600545287,"app":"SKYPE","id":"…","antenna_id":"…"}
// copied into the sink's own buffer from three pre-encoded pieces: `{"bytes":N` (a table for
// the original's 0..9999), `,"timestamp":T` (the same for a whole second) and the rest, which
// depends only on (app, user, antenna) and is cached. Building a string per event and
// encoding it again cost more than everything else the simulator does.
import { APPS } from '../lib/reference.ts'
import { type Population } from './population.ts'
import { type SimRecord } from './traffic.ts'

const UUID_LENGTH = 36
/** No valid simulated event is longer than this (ids, digits and the longest app name). */
export const MAX_EVENT_JSON_BYTES = 256
const TABLED_BYTES = 10_000
// Users stay at an antenna a while and use a few apps, so far fewer combinations are live
// than exist; clearing the cache when it is full keeps memory bounded with a million users.
const SUFFIX_CACHE_LIMIT = 1 << 16

export class EventEncoder {
  readonly population: Population
  readonly #userIds: Buffer
  readonly #bytesPieces: Buffer[] = []
  readonly #suffixes = new Map<number, Buffer>()
  #second = -1
  #timestampPiece = Buffer.alloc(0)

  constructor(population: Population) {
    this.population = population
    const ids = population.users.map(u => u.id)
    for (const id of ids) {
      if (id.length !== UUID_LENGTH) throw new Error(`user ids must be ${UUID_LENGTH} characters, got '${id}'`)
    }
    this.#userIds = Buffer.from(ids.join(''), 'latin1')
    for (let n = 0; n < TABLED_BYTES; n++) this.#bytesPieces.push(Buffer.from(`{"bytes":${n}`, 'latin1'))
  }

  /** The user id as bytes (the Kafka key with `--key user`). */
  userKey(record: SimRecord): Buffer {
    return this.#userIds.subarray(record.user * UUID_LENGTH, (record.user + 1) * UUID_LENGTH)
  }

  /** Upper bound of the bytes `write` may take for this record. */
  maxBytes(record: SimRecord): number {
    const bad = record.badPayload
    if (bad === undefined) return MAX_EVENT_JSON_BYTES
    return typeof bad === 'string' ? bad.length * 3 : bad.length
  }

  /** Writes the record's payload at `at`; returns the offset after it. */
  write(record: SimRecord, target: Buffer, at: number): number {
    const bad = record.badPayload
    if (bad !== undefined) {
      if (typeof bad === 'string') return at + target.write(bad, at, 'utf8')
      return at + bad.copy(target, at)
    }
    const bytes =
      record.bytes < TABLED_BYTES ? this.#bytesPieces[record.bytes]! : Buffer.from(`{"bytes":${record.bytes}`, 'latin1')
    target.set(bytes, at)
    at += bytes.length
    if (record.timestamp !== this.#second) {
      this.#second = record.timestamp
      this.#timestampPiece = Buffer.from(`,"timestamp":${record.timestamp}`, 'latin1')
    }
    target.set(this.#timestampPiece, at)
    at += this.#timestampPiece.length
    const suffix = this.#suffix(record)
    target.set(suffix, at)
    return at + suffix.length
  }

  /** The record's payload as a buffer of its own. */
  payload(record: SimRecord): Buffer {
    const buffer = Buffer.allocUnsafe(this.maxBytes(record))
    return buffer.subarray(0, this.write(record, buffer, 0))
  }

  /** `,"app":"…","id":"…","antenna_id":"…"}` */
  #suffix(record: SimRecord): Buffer {
    const key = (record.user * this.population.antennas.length + record.antenna) * APPS.length + record.app
    let suffix = this.#suffixes.get(key)
    if (suffix === undefined) {
      if (this.#suffixes.size >= SUFFIX_CACHE_LIMIT) this.#suffixes.clear()
      const user = this.population.users[record.user]!
      const antenna = this.population.antennas[record.antenna]!
      suffix = Buffer.from(`,"app":"${APPS[record.app]!}","id":"${user.id}","antenna_id":"${antenna.id}"}`, 'utf8')
      this.#suffixes.set(key, suffix)
    }
    return suffix
  }
}
