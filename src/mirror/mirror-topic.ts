// The Kafka side of the mirror: a compacted topic keyed by user id. Records go out through
// the idempotent producer (a retry never duplicates or reorders a record), one send at a
// time, each key always to the same partition, so the last record of a key is its latest
// state.
import { murmur2, type Producer, type Consumer } from '@platformatic/kafka'
import { ensureTopics, leafMessage, partitionCount, withAdmin } from '../kafka/admin.ts'
import { createConsumer, createProducer } from '../kafka/clients.ts'
import { Fetcher, READ_UNCOMMITTED, readToEnd } from '../kafka/fetcher.ts'
import { CellstreamError, UnavailableError } from '../lib/errors.ts'

export interface MirrorTopicOptions {
  brokers: string[]
  topic: string
  /** Partitions when the topic has to be created; an existing topic keeps its own. */
  partitions: number
  clientId: string
}

/** One record: a null value is a tombstone. */
export interface KeyedValue { key: string, value: string | null }

// Keeps each produce request well under the broker's default 1 MiB limit.
const SEND_CHUNK = 1000

export class MirrorTopic {
  readonly name: string
  readonly partitions: number
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>
  readonly #fetcher: Fetcher

  private constructor (options: MirrorTopicOptions, partitions: number) {
    this.name = options.topic
    this.partitions = partitions
    this.#producer = createProducer(options.brokers, options.clientId)
    // Used for raw fetches only; it never joins its group.
    this.#consumer = createConsumer(options.brokers, options.clientId, `${options.clientId}-reader`)
    this.#fetcher = new Fetcher(this.#consumer, { isolationLevel: READ_UNCOMMITTED })
  }

  /** Creates the topic (compacted) if it is missing. */
  static async open (options: MirrorTopicOptions): Promise<MirrorTopic> {
    const partitions = await withAdmin(options.brokers, async admin => {
      await ensureTopics(admin, [{ name: options.topic, partitions: options.partitions, config: { 'cleanup.policy': 'compact' } }])
      return partitionCount(admin, options.topic)
    }).catch(error => { throw kafkaError(error, `Kafka is not reachable at ${options.brokers.join(',')}`) })
    return new MirrorTopic(options, partitions)
  }

  /** The partition of a key as Kafka's Java producer computes it, so every client agrees. */
  partitionOf (key: Buffer): number {
    return (murmur2(key) & 0x7fffffff) % this.partitions
  }

  async publish (records: readonly KeyedValue[]): Promise<void> {
    for (let i = 0; i < records.length; i += SEND_CHUNK) {
      const messages = records.slice(i, i + SEND_CHUNK).map(({ key, value }) => {
        const keyBytes = Buffer.from(key)
        // The client's types have no null value, but it writes null as a tombstone.
        return { topic: this.name, partition: this.partitionOf(keyBytes), key: keyBytes, value: (value === null ? null : Buffer.from(value)) as Buffer }
      })
      try {
        await this.#producer.send({ messages })
      } catch (error) {
        throw kafkaError(error, `cannot publish to topic ${this.name}`)
      }
    }
  }

  /** The keys whose latest record is not a tombstone: what the compacted topic holds now. */
  async liveKeys (): Promise<Set<string>> {
    const live = new Set<string>()
    try {
      const starts = await this.#fetcher.startOffsets(this.name)
      const from = new Map(Array.from({ length: this.partitions }, (_, p) => [p, starts[p] ?? 0n]))
      for await (const batch of readToEnd(this.#fetcher, this.name, from)) {
        for (const record of batch) {
          if (record.key === null) continue
          if (record.value === null) live.delete(record.key.toString())
          else live.add(record.key.toString())
        }
      }
    } catch (error) {
      throw kafkaError(error, `cannot read topic ${this.name}`)
    }
    return live
  }

  async close (): Promise<void> {
    await this.#producer.close().catch(() => {})
    await this.#consumer.close(true).catch(() => {})
  }
}

function kafkaError (error: unknown, what: string): unknown {
  if (error instanceof CellstreamError) return error
  return new UnavailableError(`${what}: ${leafMessage(error)}`, error)
}
