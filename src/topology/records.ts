// The records that flow through a topology, from the raw Kafka record to the windowed result.

import type { RawRecord } from '../lib/records.ts'

export type { OutgoingRecord, RawRecord, SourceCoordinates } from '../lib/records.ts'

/** A deserialized record inside a stream; `timestamp` is its event time in epoch milliseconds. */
export interface StreamRecord<K, V> {
  key: K
  value: V
  timestamp: number
  raw: RawRecord
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
