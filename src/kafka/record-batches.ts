// Decodes the record batches of a fetch response straight from its bytes into RawRecords:
// one object per record plus its value's view, no intermediate record object, no BigInt per
// record, and batches of aborted transactions skipped without decoding their records. The
// format is Kafka's record batch v2 (magic 2). Compressed batches go through the client's
// decoder, which knows the codecs.
import { Reader, readRecordsBatch } from '@platformatic/kafka'
import type { RawRecord, SourceCoordinates } from '../topology/records.ts'

const TRANSACTIONAL = 0x10
const CONTROL = 0x20
const COMPRESSION = 0x07
/** Bytes of a batch before its records: offset, length, …, record count. */
const BATCH_HEADER = 61

export interface AbortedTransaction { producerId: bigint, firstOffset: bigint }

export interface DecodedPartition {
  records: RawRecord[]
  /** The offset after the last batch read (control batches included), or `from` if none. */
  next: bigint
}

/**
 * Decodes `bytes` (the partition's records field) from offset `from` on. With `aborted` (the
 * response's aborted transactions, under read_committed) it drops every record of an aborted
 * transaction: a transaction covers its producer's batches from its first offset up to its
 * ABORT marker. A batch cut at the end of the response is left for the next fetch.
 */
export function decodeRecordBatches (bytes: Buffer, topic: string, partition: number, from: bigint, aborted: readonly AbortedTransaction[] | undefined): DecodedPartition {
  const records: RawRecord[] = []
  let next = from
  const pending = aborted === undefined ? [] : [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
  const abortedProducers = new Set<bigint>()
  let nextAborted = 0
  for (let at = 0; at + BATCH_HEADER <= bytes.length;) {
    const end = at + 12 + bytes.readInt32BE(at + 8)
    if (end > bytes.length) break
    const firstOffset = bytes.readBigInt64BE(at)
    const attributes = bytes.readInt16BE(at + 21)
    const lastOffset = firstOffset + BigInt(bytes.readInt32BE(at + 23))
    const producerId = bytes.readBigInt64BE(at + 43)
    const batchStart = at
    at = end
    if (lastOffset < from) continue
    next = lastOffset + 1n
    while (nextAborted < pending.length && pending[nextAborted]!.firstOffset <= lastOffset) abortedProducers.add(pending[nextAborted++]!.producerId)
    if ((attributes & CONTROL) !== 0) {
      const marker = controlKey(bytes, batchStart, end)
      if (marker !== null && marker.length >= 4 && marker.readInt16BE(2) === 0) abortedProducers.delete(producerId)
      continue
    }
    if ((attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(producerId)) continue
    // Deltas below this belong to offsets before `from` (a batch that started earlier).
    const firstDelta = firstOffset < from ? Number(from - firstOffset) : 0
    const firstTimestamp = Number(bytes.readBigInt64BE(batchStart + 27))
    if ((attributes & COMPRESSION) !== 0) {
      decodeCompressed(bytes.subarray(batchStart, end), topic, partition, firstDelta, records)
    } else {
      decodeRecords(bytes, batchStart + BATCH_HEADER, end, bytes.readInt32BE(batchStart + 57), firstOffset, firstTimestamp, firstDelta, topic, partition, records)
    }
  }
  return { records, next }
}

function decodeRecords (bytes: Buffer, start: number, end: number, count: number, firstOffset: bigint, firstTimestamp: number, firstDelta: number, topic: string, partition: number, records: RawRecord[]): void {
  const varint = new VarIntReader(bytes, start)
  for (let i = 0; i < count && varint.at < end; i++) {
    const length = varint.signed()
    const recordEnd = varint.at + length
    varint.at++ // attributes, unused
    const timestampDelta = varint.signedLong()
    const offsetDelta = varint.signed()
    const key = varint.bytes()
    const value = varint.bytes()
    const headerCount = varint.signed()
    let headers: Array<[Buffer | null, Buffer | null]> | undefined
    if (headerCount > 0) {
      headers = []
      for (let h = 0; h < headerCount; h++) headers.push([varint.bytes(), varint.bytes()])
    }
    varint.at = recordEnd
    if (offsetDelta < firstDelta) continue
    records.push(new FetchedRecord(key, value, firstTimestamp + timestampDelta, headers, topic, partition, firstOffset, offsetDelta))
  }
}

function decodeCompressed (batch: Buffer, topic: string, partition: number, firstDelta: number, records: RawRecord[]): void {
  const decoded = readRecordsBatch(Reader.from(batch))
  const firstTimestamp = Number(decoded.firstTimestamp)
  for (const record of decoded.records) {
    if (record.offsetDelta < firstDelta) continue
    records.push(new FetchedRecord(record.key, record.value, firstTimestamp + Number(record.timestampDelta), record.headers.length > 0 ? record.headers : undefined, topic, partition, decoded.firstOffset, record.offsetDelta))
  }
}

/** The key of a control batch's record: its type (ABORT or COMMIT) is in it. */
function controlKey (bytes: Buffer, batchStart: number, end: number): Buffer | null {
  if (bytes.readInt32BE(batchStart + 57) === 0) return null
  const varint = new VarIntReader(bytes, batchStart + BATCH_HEADER)
  varint.signed() // length
  varint.at++ // attributes
  varint.signedLong() // timestamp delta
  varint.signed() // offset delta
  return varint.at < end ? varint.bytes() : null
}

/** Zigzag varints, read in place. */
class VarIntReader {
  readonly #bytes: Buffer
  at: number

  constructor (bytes: Buffer, at: number) {
    this.#bytes = bytes
    this.at = at
  }

  signed (): number {
    let value = 0
    let shift = 0
    let byte: number
    do {
      byte = this.#bytes[this.at++]!
      value |= (byte & 0x7f) << shift
      shift += 7
    } while ((byte & 0x80) !== 0 && shift < 35)
    return (value >>> 1) ^ -(value & 1)
  }

  /** A zigzag varlong as a number: exact up to 2^53, which any timestamp delta is. */
  signedLong (): number {
    let value = 0
    let scale = 1
    let byte: number
    do {
      byte = this.#bytes[this.at++]!
      value += (byte & 0x7f) * scale
      scale *= 128
    } while ((byte & 0x80) !== 0 && scale < 2 ** 70)
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2
  }

  /** Length-prefixed bytes, as a view of the response; null for length -1. */
  bytes (): Buffer | null {
    const length = this.signed()
    if (length < 0) return null
    const start = this.at
    this.at += length
    return this.#bytes.subarray(start, this.at)
  }
}

/**
 * A fetched record. Its coordinates are built on first use: most records never need them
 * (only dead letters, late records and changelog reads do), and each would cost an object
 * and a BigInt.
 */
export class FetchedRecord implements RawRecord {
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly timestamp: number
  readonly headers: ReadonlyArray<[Buffer | null, Buffer | null]> | undefined
  readonly #topic: string
  readonly #partition: number
  readonly #baseOffset: bigint
  readonly #delta: number
  #source: SourceCoordinates | undefined

  constructor (key: Buffer | null, value: Buffer | null, timestamp: number, headers: ReadonlyArray<[Buffer | null, Buffer | null]> | undefined, topic: string, partition: number, baseOffset: bigint, delta: number) {
    this.key = key
    this.value = value
    this.timestamp = timestamp
    this.headers = headers
    this.#topic = topic
    this.#partition = partition
    this.#baseOffset = baseOffset
    this.#delta = delta
  }

  get source (): SourceCoordinates {
    this.#source ??= { topic: this.#topic, partition: this.#partition, offset: this.#baseOffset + BigInt(this.#delta) }
    return this.#source
  }
}
