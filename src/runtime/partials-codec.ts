// The records of an aggregation's internal partials topic. Two kinds share it, in the order
// each source task produced them: partial aggregates (key = 0x00 + group key bytes, value =
// window start + aggregate bytes) and watermark heartbeats (key = 0x01 + source id, value =
// stream time + idle flag). A source sends its partials first and its heartbeat last in each
// commit, so an owner that has seen a heartbeat has seen every partial sent before it.
import { readInt64, writeInt64, type Serde } from '../lib/serdes.ts'
import { DataError } from '../lib/errors.ts'
import { partitionForKey } from '../lib/hash.ts'

const PARTIAL = 0
const HEARTBEAT = 1
/** Stream time of a partition that has not yet seen a record. */
export const NO_TIME = Number.MIN_SAFE_INTEGER

export interface Heartbeat {
  kind: 'heartbeat'
  source: string
  streamTime: number
  idle: boolean
}

export interface Partial<K, A> {
  kind: 'partial'
  start: number
  key: K
  value: A
}

export function sourceId (topic: string, partition: number): string {
  return `${topic}:${partition}`
}

export interface PartialsCodec<K, A> {
  encodePartial (start: number, key: K, value: A, partitions: number): { partition: number, key: Buffer, value: Buffer }
  decode (key: Buffer | null, value: Buffer | null): Partial<K, A> | Heartbeat
}

export function encodeHeartbeat (source: string, streamTime: number, idle: boolean): { key: Buffer, value: Buffer } {
  const key = Buffer.concat([Buffer.from([HEARTBEAT]), Buffer.from(source, 'utf8')])
  const value = Buffer.allocUnsafe(9)
  writeInt64(value, 0, streamTime)
  value[8] = idle ? 1 : 0
  return { key, value }
}

export function partialsCodec<K, A> (keySerde: Serde<K>, valueSerde: Serde<A>): PartialsCodec<K, A> {
  return {
    encodePartial (start, key, value, partitions) {
      const keyBytes = keySerde.serialize(key)
      const header = Buffer.allocUnsafe(8)
      writeInt64(header, 0, start)
      return {
        partition: partitionForKey(keyBytes, partitions),
        key: Buffer.concat([Buffer.from([PARTIAL]), keyBytes]),
        value: Buffer.concat([header, valueSerde.serialize(value)])
      }
    },
    decode (key, value) {
      if (key === null || key.length === 0 || value === null) throw new DataError('partials record without key or value')
      if (key[0] === HEARTBEAT) {
        if (value.length !== 9) throw new DataError(`heartbeat value must be 9 bytes, got ${value.length}`)
        return { kind: 'heartbeat', source: key.subarray(1).toString('utf8'), streamTime: readInt64(value, 0), idle: value[8] === 1 }
      }
      if (key[0] !== PARTIAL || value.length < 8) throw new DataError('malformed partials record')
      return { kind: 'partial', start: readInt64(value, 0), key: keySerde.deserialize(key.subarray(1)), value: valueSerde.deserialize(value.subarray(8)) }
    }
  }
}
