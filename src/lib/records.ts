// The records that cross the Kafka adapter, as fetched and as produced, and the one way to
// name a partition of a topic. The DSL, the runtime and the adapter all speak of these.

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

/** A record to produce: serialized, with its destination. */
export interface OutgoingRecord {
  topic: string
  /** Explicit partition; undefined lets the producer choose (by key hash, or spread when null). */
  partition?: number
  key: Buffer | null
  value: Buffer | null
  headers?: Record<string, string>
}

/** A partition of a topic, by name: `topic:partition`, the same spelling everywhere. */
export function topicPartition(topic: string, partition: number): string {
  return `${topic}:${partition}`
}
