// Serializes simulated records. A valid event becomes the reference's compact JSON,
//   {"bytes":9082,"timestamp":1600545287,"app":"SKYPE","id":"…","antenna_id":"…"}
// written byte by byte into the sink's own buffer from pre-encoded pieces: building a
// string per event and encoding it again cost more than everything else the simulator does.
import { APPS } from '../lib/reference.ts'
import { type Population } from './population.ts'
import { type SimRecord } from './traffic.ts'

const UUID_LENGTH = 36
/** No valid simulated event is longer than this (ids, digits and the longest app name). */
export const MAX_EVENT_JSON_BYTES = 256

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'))
const OPEN = ascii('{"bytes":')
const TIMESTAMP = ascii(',"timestamp":')
const APP = ascii(',"app":"')
const ID = ascii('","id":"')
const ANTENNA = ascii('","antenna_id":"')
const CLOSE = ascii('"}')

export class EventEncoder {
  readonly population: Population
  readonly #userIds: Buffer
  readonly #antennaIds: Buffer
  readonly #apps = APPS.map(ascii)

  constructor (population: Population) {
    this.population = population
    this.#userIds = packIds(population.users.map(u => u.id))
    this.#antennaIds = packIds(population.antennas.map(a => a.id))
  }

  /** The user id as bytes (the Kafka key with `--key user`). */
  userKey (record: SimRecord): Buffer {
    return this.#userIds.subarray(record.user * UUID_LENGTH, (record.user + 1) * UUID_LENGTH)
  }

  /** Upper bound of the bytes `write` may take for this record. */
  maxBytes (record: SimRecord): number {
    const bad = record.badPayload
    if (bad === undefined) return MAX_EVENT_JSON_BYTES
    return typeof bad === 'string' ? bad.length * 3 : bad.length
  }

  /** Writes the record's payload at `at`; returns the offset after it. */
  write (record: SimRecord, target: Buffer, at: number): number {
    const bad = record.badPayload
    if (bad !== undefined) {
      if (typeof bad === 'string') return at + target.write(bad, at, 'utf8')
      return at + bad.copy(target, at)
    }
    target.set(OPEN, at)
    at = writeDigits(target, at + OPEN.length, record.bytes)
    target.set(TIMESTAMP, at)
    at = writeDigits(target, at + TIMESTAMP.length, record.timestamp)
    target.set(APP, at)
    const app = this.#apps[record.app]!
    target.set(app, at += APP.length)
    target.set(ID, at += app.length)
    at = copyId(this.#userIds, record.user, target, at + ID.length)
    target.set(ANTENNA, at)
    at = copyId(this.#antennaIds, record.antenna, target, at + ANTENNA.length)
    target.set(CLOSE, at)
    return at + CLOSE.length
  }

  /** The record's payload as a buffer of its own. */
  payload (record: SimRecord): Buffer {
    const buffer = Buffer.allocUnsafe(this.maxBytes(record))
    return buffer.subarray(0, this.write(record, buffer, 0))
  }
}

function packIds (ids: readonly string[]): Buffer {
  for (const id of ids) {
    if (id.length !== UUID_LENGTH) throw new Error(`ids must be ${UUID_LENGTH} characters, got '${id}'`)
  }
  return Buffer.from(ids.join(''), 'latin1')
}

function copyId (ids: Buffer, index: number, target: Buffer, at: number): number {
  // A loop beats subarray + set for 36 bytes: it allocates no view.
  for (let i = index * UUID_LENGTH, end = i + UUID_LENGTH; i < end; i++) target[at++] = ids[i]!
  return at
}

/** Writes a non-negative safe integer in decimal. */
function writeDigits (target: Buffer, at: number, value: number): number {
  let digits = 1
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++
  let v = value
  for (let i = at + digits - 1; i >= at; i--) {
    target[i] = 48 + (v % 10)
    v = Math.floor(v / 10)
  }
  return at + digits
}
