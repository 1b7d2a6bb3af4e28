// Kafka record batches (message format v2) encoded straight into one buffer per partition.
// The client library builds a small buffer per record and concatenates them, which caps a
// producer near 250k records/s on a small machine; writing each record in place is several
// times faster, and the simulator must never be the bottleneck of a benchmark.
// Format: https://kafka.apache.org/documentation/#recordbatch
import { crc32c } from '@platformatic/kafka'

/** Serializes a value straight into a batch. */
export interface PayloadWriter<T> {
  /** Upper bound of the bytes `write` takes. */
  maxBytes(item: T): number
  /** Writes the value at `at` and returns the offset after it. */
  write(item: T, target: Buffer, at: number): number
}

/** What an idempotent producer writes into a batch's header. */
export interface BatchProducerStamp {
  producerId: bigint
  producerEpoch: number
  /** The sequence number of the batch's first record in its partition. */
  baseSequence: number
}

const NOT_IDEMPOTENT: BatchProducerStamp = { producerId: -1n, producerEpoch: -1, baseSequence: -1 }

const HEADER_BYTES = 61
const MAX_VARINT_BYTES = 5
// Offsets inside the header.
const LENGTH_AT = 8
const CRC_AT = 17
const ATTRIBUTES_AT = 21
const RECORD_COUNT_AT = 57

export class RecordBatchBuilder {
  readonly #buffer: Buffer
  #at = HEADER_BYTES
  #count = 0

  constructor(capacity: number) {
    this.#buffer = Buffer.allocUnsafe(capacity)
  }

  get count(): number {
    return this.#count
  }

  /**
   * Appends a record with no headers whose value `payload` writes in place. Returns false,
   * leaving the batch unchanged, when it might not fit.
   */
  add<T>(key: Uint8Array | null, payload: PayloadWriter<T>, item: T): boolean {
    const keyLength = key === null ? -1 : key.length
    const maxValue = payload.maxBytes(item)
    const buffer = this.#buffer
    const start = this.#at
    if (start + 2 * MAX_VARINT_BYTES + 3 + MAX_VARINT_BYTES + Math.max(keyLength, 0) + maxValue + 1 > buffer.length)
      return false
    // Most values are 64..8191 bytes, whose length varints take 2 bytes: reserve that much and
    // move the value only when the guess was wrong.
    let at = start + 2
    buffer[at++] = 0 // attributes
    buffer[at++] = 0 // timestamp delta: every record carries the batch's timestamp
    at = writeVarint(buffer, at, this.#count)
    at = writeVarint(buffer, at, keyLength)
    if (key !== null) {
      buffer.set(key, at)
      at += key.length
    }
    const valueStart = at + 2
    const valueEnd = payload.write(item, buffer, valueStart)
    const valueLength = valueEnd - valueStart
    const valueVarint = varintSize(valueLength)
    if (valueVarint !== 2) buffer.copyWithin(at + valueVarint, valueStart, valueEnd)
    at = writeVarint(buffer, at, valueLength) + valueLength
    buffer[at++] = 0 // no headers
    const body = at - start - 2
    const bodyVarint = varintSize(body)
    if (bodyVarint !== 2) buffer.copyWithin(start + bodyVarint, start + 2, at)
    writeVarint(buffer, start, body)
    this.#at = start + bodyVarint + body
    this.#count++
    return true
  }

  /**
   * Fills in the header and returns the finished batch. The records are stamped `timestampMs`
   * (the producer's clock), never their event time: the broker's retention would otherwise
   * delete a historic backfill at once. With `producer`, the batch carries an idempotent
   * producer's id, epoch and the sequence of its first record, so that the broker writes it
   * once however often it is sent.
   */
  seal(timestampMs: number, producer: BatchProducerStamp = NOT_IDEMPOTENT): Buffer {
    const buffer = this.#buffer
    const ts = BigInt(timestampMs)
    buffer.writeBigInt64BE(0n, 0) // base offset, assigned by the broker
    buffer.writeInt32BE(this.#at - 12, LENGTH_AT)
    buffer.writeInt32BE(-1, 12) // partition leader epoch
    buffer[16] = 2 // magic
    buffer.writeInt16BE(0, ATTRIBUTES_AT) // no compression, create time, not transactional
    buffer.writeInt32BE(this.#count - 1, 23) // last offset delta
    buffer.writeBigInt64BE(ts, 27) // first timestamp
    buffer.writeBigInt64BE(ts, 35) // max timestamp
    buffer.writeBigInt64BE(producer.producerId, 43)
    buffer.writeInt16BE(producer.producerEpoch, 51)
    buffer.writeInt32BE(producer.baseSequence, 53)
    buffer.writeInt32BE(this.#count, RECORD_COUNT_AT)
    const batch = buffer.subarray(0, this.#at)
    batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_AT)), CRC_AT)
    return batch
  }
}

/** Bytes of a zig-zag varint. */
function varintSize(value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1
  let size = 1
  while (v >= 0x80) {
    v = Math.floor(v / 128)
    size++
  }
  return size
}

function writeVarint(buffer: Buffer, at: number, value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1
  while (v >= 0x80) {
    buffer[at++] = (v & 0x7f) | 0x80
    v = Math.floor(v / 128)
  }
  buffer[at++] = v
  return at
}
