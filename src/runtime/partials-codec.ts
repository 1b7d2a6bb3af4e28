// The records of an aggregation's internal partials topic. Two kinds share it, in the order
// each source task produced them: partial aggregates and watermark heartbeats (key = 0x01 +
// source id, value = stream time + idle flag). A source sends its partials first and its
// heartbeat last in each commit, so an owner that has seen a heartbeat has seen every
// partial sent before it.
//
// Partials travel packed: one record holds many partials of one source for one owner
// partition (key = 0x02 + source id, value = entries of window start, key length, key bytes,
// value length, value bytes). A record per partial would cost the producer, the broker and
// the owner's fetch one record each, and a source sends about one partial per window and key
// it saw. Each partial still goes to the partition that Kafka's murmur2 of its key bytes
// picks. Records of one partial each (key = 0x00 + group key bytes, value = window start +
// aggregate bytes) are still read.
import { readInt64, writeInt64, type Serde } from '../lib/serdes.ts'
import { DataError } from '../lib/errors.ts'
import { partitionForKey } from '../lib/hash.ts'

const PARTIAL = 0
const HEARTBEAT = 1
const PARTIALS = 2
/** Stream time of a partition that has not yet seen a record. */
export const NO_TIME = Number.MIN_SAFE_INTEGER
/**
 * Upper bound of a packed record's value. Well below the broker's default limit of 1 MB
 * per batch, so a commit's sends can be cut into chunks that each fit.
 */
export const MAX_PACKED_BYTES = 128 << 10
const ENTRY_OVERHEAD = 8 + 4 + 4

export interface Heartbeat {
  kind: 'heartbeat'
  source: string
  streamTime: number
  idle: boolean
}

export interface Partial<K, A> {
  start: number
  key: K
  value: A
}

export interface Partials<K, A> {
  kind: 'partials'
  partials: Array<Partial<K, A>>
}

export interface EncodedPartials {
  partition: number
  key: Buffer
  value: Buffer
}

export interface PartialsCodec<K, A> {
  /** Packs partials into records per owner partition, each at most MAX_PACKED_BYTES (unless one partial alone is larger). */
  encodePartials(source: string, partials: Iterable<Partial<K, A>>, partitions: number): EncodedPartials[]
  decode(key: Buffer | null, value: Buffer | null): Partials<K, A> | Heartbeat
}

export function encodeHeartbeat(source: string, streamTime: number, idle: boolean): { key: Buffer; value: Buffer } {
  const key = Buffer.concat([Buffer.from([HEARTBEAT]), Buffer.from(source, 'utf8')])
  const value = Buffer.allocUnsafe(9)
  writeInt64(value, 0, streamTime)
  value[8] = idle ? 1 : 0
  return { key, value }
}

interface Pending {
  parts: Buffer[]
  bytes: number
}

export function partialsCodec<K, A>(keySerde: Serde<K>, valueSerde: Serde<A>): PartialsCodec<K, A> {
  return {
    encodePartials(source, partials, partitions) {
      const recordKey = Buffer.concat([Buffer.from([PARTIALS]), Buffer.from(source, 'utf8')])
      const records: EncodedPartials[] = []
      const pending: Array<Pending | undefined> = new Array(partitions)
      const flush = (partition: number, { parts, bytes }: Pending): void => {
        const value = Buffer.allocUnsafe(bytes)
        let offset = 0
        for (const part of parts) offset += part.copy(value, offset)
        records.push({ partition, key: recordKey, value })
      }
      for (const { start, key, value } of partials) {
        const keyBytes = keySerde.serialize(key)
        const valueBytes = valueSerde.serialize(value)
        const partition = partitionForKey(keyBytes, partitions)
        const header = Buffer.allocUnsafe(12)
        writeInt64(header, 0, start)
        header.writeUInt32BE(keyBytes.length, 8)
        const length = Buffer.allocUnsafe(4)
        length.writeUInt32BE(valueBytes.length, 0)
        const size = ENTRY_OVERHEAD + keyBytes.length + valueBytes.length
        let batch = pending[partition]
        if (batch !== undefined && batch.bytes + size > MAX_PACKED_BYTES) {
          flush(partition, batch)
          batch = undefined
        }
        if (batch === undefined) pending[partition] = batch = { parts: [], bytes: 0 }
        batch.parts.push(header, keyBytes, length, valueBytes)
        batch.bytes += size
      }
      for (let partition = 0; partition < partitions; partition++) {
        const batch = pending[partition]
        if (batch !== undefined) flush(partition, batch)
      }
      return records
    },
    decode(key, value) {
      if (key === null || key.length === 0 || value === null)
        throw new DataError('partials record without key or value')
      switch (key[0]) {
        case HEARTBEAT:
          if (value.length !== 9) throw new DataError(`heartbeat value must be 9 bytes, got ${value.length}`)
          return {
            kind: 'heartbeat',
            source: key.subarray(1).toString('utf8'),
            streamTime: readInt64(value, 0),
            idle: value[8] === 1
          }
        case PARTIALS:
          return { kind: 'partials', partials: decodePacked(value, keySerde, valueSerde) }
        case PARTIAL:
          if (value.length < 8) throw new DataError('malformed partials record')
          return {
            kind: 'partials',
            partials: [
              {
                start: readInt64(value, 0),
                key: keySerde.deserialize(key.subarray(1)),
                value: valueSerde.deserialize(value.subarray(8))
              }
            ]
          }
        default:
          throw new DataError(`unknown partials record kind ${key[0]}`)
      }
    }
  }
}

function decodePacked<K, A>(bytes: Buffer, keySerde: Serde<K>, valueSerde: Serde<A>): Array<Partial<K, A>> {
  const partials: Array<Partial<K, A>> = []
  let offset = 0
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) throw new DataError('packed partials cut short')
    const start = readInt64(bytes, offset)
    const keyEnd = offset + 12 + bytes.readUInt32BE(offset + 8)
    if (keyEnd + 4 > bytes.length) throw new DataError('packed partials cut short')
    const valueEnd = keyEnd + 4 + bytes.readUInt32BE(keyEnd)
    if (valueEnd > bytes.length) throw new DataError('packed partials cut short')
    partials.push({
      start,
      key: keySerde.deserialize(bytes.subarray(offset + 12, keyEnd)),
      value: valueSerde.deserialize(bytes.subarray(keyEnd + 4, valueEnd))
    })
    offset = valueEnd
  }
  return partials
}
