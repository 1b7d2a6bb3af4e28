// The Kafka side of the mirror: a compacted topic keyed by user id. Records go out through
// the idempotent producer (a retry never duplicates or reorders a record), one send at a
// time, each key always to the same partition, so the last record of a key is its latest
// state. Each record names the database it comes from in a header, so that a mirror can tell
// a topic that holds another database's users. A record too large for the topic is not sent
// (the broker would refuse it, and every later change would wait behind it): it is returned.
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  ensureTopics,
  describeKafkaFailure,
  leafMessage,
  messageLimits,
  partitionCount,
  withAdmin
} from '../kafka/admin.ts'
import { createConsumer, createProducer, type KafkaConsumer, type KafkaProducer } from '../kafka/clients.ts'
import { partitionForKey } from '../lib/hash.ts'
import { Fetcher, headerValue, READ_UNCOMMITTED, readToEnd } from '../kafka/fetcher.ts'
import { CellstreamError, UnavailableError } from '../lib/errors.ts'

export interface MirrorTopicOptions {
  brokers: string[]
  topic: string
  /** Partitions when the topic has to be created; an existing topic keeps its own. */
  partitions: number
  clientId: string
}

/** One record: a null value is a tombstone. */
export interface KeyedValue {
  key: string
  value: string | null
}

/** The header naming the database (its cellstream_database id) a record comes from. */
export const SOURCE_HEADER = 'cellstream.mirror.source'

/** What the topic holds now: its live keys, and the databases their records come from. */
export interface TopicState {
  keys: Set<string>
  /** Sources of live records; records without the header are not counted. */
  sources: Set<string>
}

// Keeps each produce request well under the broker's default 1 MiB limit.
const SEND_CHUNK = 1000
const SEND_CHUNK_BYTES = 512 << 10
/** What a record batch and a record's framing add to the key, value and header. */
const RECORD_OVERHEAD = 61 + 32 + 10 + SOURCE_HEADER.length + 36

export class MirrorTopic {
  readonly name: string
  readonly partitions: number
  readonly #producer: KafkaProducer
  readonly #consumer: KafkaConsumer
  readonly #fetcher: Fetcher
  /** The topic's max.message.bytes. */
  readonly #limit: number

  private constructor(options: MirrorTopicOptions, partitions: number, limit: number) {
    this.name = options.topic
    this.partitions = partitions
    this.#limit = limit
    this.#producer = createProducer(options.brokers, options.clientId)
    // Used for raw fetches only; it never joins its group.
    this.#consumer = createConsumer(options.brokers, options.clientId, `${options.clientId}-reader`)
    this.#fetcher = new Fetcher(this.#consumer, { isolationLevel: READ_UNCOMMITTED })
  }

  /** Creates the topic (compacted) if it is missing. */
  static async open(options: MirrorTopicOptions): Promise<MirrorTopic> {
    const { partitions, limit } = await withAdmin(options.brokers, async admin => {
      await ensureTopics(admin, [
        { name: options.topic, partitions: options.partitions, config: { 'cleanup.policy': 'compact' } }
      ])
      const limits = await messageLimits(admin, [options.topic])
      return {
        partitions: await partitionCount(admin, options.topic),
        limit: limits.get(options.topic) ?? DEFAULT_MAX_MESSAGE_BYTES
      }
    }).catch(error => {
      throw error instanceof CellstreamError
        ? error
        : new UnavailableError(describeKafkaFailure(error, options.brokers), error)
    })
    return new MirrorTopic(options, partitions, limit)
  }

  /** The partition of a key as Kafka's Java producer computes it, so every client agrees. */
  partitionOf(key: Buffer): number {
    return partitionForKey(key, this.partitions)
  }

  /**
   * Publishes records stamped with `source`; returns, unsent, those too large for the topic,
   * with their size.
   */
  async publish(
    records: readonly KeyedValue[],
    source: string
  ): Promise<Array<KeyedValue & { bytes: number; limit: number }>> {
    const tooLarge: Array<KeyedValue & { bytes: number; limit: number }> = []
    const headers = new Map([[Buffer.from(SOURCE_HEADER), Buffer.from(source)]])
    let messages: Array<{
      topic: string
      partition: number
      key: Buffer
      value: Buffer
      headers: Map<Buffer, Buffer>
    }> = []
    let bytes = 0
    const send = async (): Promise<void> => {
      if (messages.length === 0) return
      try {
        await this.#producer.send({ messages })
      } catch (error) {
        throw kafkaError(error, `cannot publish to topic ${this.name}`)
      }
      messages = []
      bytes = 0
    }
    for (const record of records) {
      const keyBytes = Buffer.from(record.key)
      const valueBytes = record.value === null ? null : Buffer.from(record.value)
      const size = RECORD_OVERHEAD + keyBytes.length + (valueBytes?.length ?? 0)
      if (size > this.#limit) {
        tooLarge.push({ ...record, bytes: size, limit: this.#limit })
        continue
      }
      if (messages.length >= SEND_CHUNK || bytes + size > Math.min(SEND_CHUNK_BYTES, this.#limit)) await send()
      // The client's types have no null value, but it writes null as a tombstone.
      messages.push({
        topic: this.name,
        partition: this.partitionOf(keyBytes),
        key: keyBytes,
        value: valueBytes as Buffer,
        headers
      })
      bytes += size
    }
    await send()
    return tooLarge
  }

  /** The keys whose latest record is not a tombstone (what the compacted topic holds now), and their sources. */
  async state(): Promise<TopicState> {
    const live = new Map<string, string | undefined>()
    try {
      const starts = await this.#fetcher.startOffsets(this.name)
      const from = new Map(Array.from({ length: this.partitions }, (_, p) => [p, starts[p] ?? 0n]))
      for await (const batch of readToEnd(this.#fetcher, this.name, from)) {
        for (const record of batch) {
          if (record.key === null) continue
          if (record.value === null) live.delete(record.key.toString())
          else live.set(record.key.toString(), headerValue(record, SOURCE_HEADER))
        }
      }
    } catch (error) {
      throw kafkaError(error, `cannot read topic ${this.name}`)
    }
    const sources = new Set<string>()
    for (const source of live.values()) if (source !== undefined) sources.add(source)
    return { keys: new Set(live.keys()), sources }
  }

  async close(): Promise<void> {
    await this.#producer.close().catch(() => {})
    await this.#consumer.close(true).catch(() => {})
  }
}

function kafkaError(error: unknown, what: string): unknown {
  if (error instanceof CellstreamError) return error
  return new UnavailableError(`${what}: ${leafMessage(error)}`, error)
}
