// The records that flow through a topology, from the raw Kafka record to the windowed result.

/** Where a record came from: its coordinates in Kafka. */
export interface SourceCoordinates {
  topic: string
  partition: number
  offset: bigint
}

/** A record as read from Kafka, before deserialization. */
export interface RawRecord {
  key: Buffer | null
  value: Buffer | null
  /** Kafka record timestamp, epoch milliseconds. */
  timestamp: number
  source: SourceCoordinates
  /** Record headers as read, when it has any. */
  headers?: ReadonlyArray<[Buffer | null, Buffer | null]>
}

/** A deserialized record inside a stream; `timestamp` is its event time in epoch milliseconds. */
export interface StreamRecord<K, V> {
  key: K
  value: V
  timestamp: number
  raw: RawRecord
}

/** A record to produce: serialized, with its destination. */
export interface OutgoingRecord {
  topic: string
  /** Explicit partition; undefined lets the producer choose (by key hash, or spread when null). */
  partition?: number
  key: Buffer | null
  value: Buffer | null
  headers?: Record<string, string>
}

/** The final value of one window of a windowed aggregation. */
export interface WindowedRecord<K, A> {
  key: K
  /** Window bounds `[start, end)`, epoch milliseconds. */
  start: number
  end: number
  value: A
  /** True when this window was emitted before and this is its corrected value (see engine docs). */
  correction: boolean
}

/** A record or window a sink would not take because of its data, and why. */
export interface Refusal<R> {
  record: R
  error: string
}

export function recordHeaders (headers: Record<string, string>): Map<Buffer, Buffer> {
  const map = new Map<Buffer, Buffer>()
  for (const [name, value] of Object.entries(headers)) map.set(Buffer.from(name), Buffer.from(value))
  return map
}
