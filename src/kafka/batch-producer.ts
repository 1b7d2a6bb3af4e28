// Produces record batches encoded by the caller (record-batch.ts) to one topic, as fast as the
// broker takes them: one Produce request per partition leader, built here, with the client
// library doing the rest (metadata, connections, framing and response parsing). Delivery is
// exactly once per producer: it is idempotent (an id from the broker, and a sequence number per
// partition in every batch), so a request that fails is retried (up to 5 attempts, with fresh
// metadata) and the broker writes a batch once even when a retry follows a timeout that hid a
// success. Callers keep at most 5 batches of a partition in flight, the most the broker tells
// apart; a batch that follows one being retried is refused out of order, and retried too.
import { ConnectionPool, type Writer, createAPI, produceV8, Writer as KafkaWriter } from '@platformatic/kafka'
import { createProducer } from './clients.ts'
import type { BatchProducerStamp } from './record-batch.ts'
import { createAdmin, describeKafkaFailure, ensureTopics, leafMessage, type KafkaAdmin } from './admin.ts'
import { UnavailableError } from '../lib/errors.ts'
import { clientSecurityOptions } from './security.ts'
import { sleep } from '../lib/processes.ts'

const TOPIC_READY_TIMEOUT_MS = 30_000

/** A partition's sealed record batch and how many records it holds. */
export type SealedBatch = [partition: number, batch: Buffer, records: number]

export interface BatchProducerOptions {
  brokers: string[]
  topic: string
  /** Partitions of the topic when it has to be created; an existing topic keeps its own. */
  partitions: number
  clientId?: string
}

interface Target {
  host: string
  port: number
}

const REQUEST_TIMEOUT_MS = 30_000
const ATTEMPTS = 5
/** Idempotent writes need every in-sync replica's acknowledgement. */
const ACKS_ALL = -1
/** Sequence numbers wrap around after 2^31 - 1. */
const SEQUENCE_WRAP = 2 ** 31

function createProduceRequest(
  acks: number,
  timeoutMs: number,
  topic: string,
  batches: Array<[number, Buffer]>
): Writer {
  const writer = KafkaWriter.create()
    .appendInt16(-1) // no transactional id
    .appendInt16(acks)
    .appendInt32(timeoutMs)
    .appendInt32(1)
    .appendString(topic, false)
    .appendInt32(batches.length)
  for (const [partition, batch] of batches) writer.appendInt32(partition).appendInt32(batch.length).append(batch)
  return writer
}

// Produce v8 is the newest version without flexible fields, which keeps the request simple;
// every broker from Kafka 2.4 to 4.x serves it.
const produce = createAPI<[number, number, string, Array<[number, Buffer]>], produceV8.ProduceResponse>(
  0,
  8,
  createProduceRequest,
  produceV8.parseResponse,
  false,
  false
)

export class BatchProducer {
  readonly topic: string
  readonly #admin: KafkaAdmin
  readonly #pool: ConnectionPool
  readonly #brokers: string[]
  readonly #clientId: string
  #producerId = -1n
  #producerEpoch = -1
  /** The sequence number of the next record, per partition. */
  readonly #sequences: number[] = []
  #partitions = 0
  #leaders: Target[] = []
  #sent = 0

  private constructor(options: BatchProducerOptions) {
    this.topic = options.topic
    this.#brokers = options.brokers
    this.#clientId = options.clientId ?? 'cellstream-producer'
    this.#admin = createAdmin(options.brokers, this.#clientId)
    this.#pool = new ConnectionPool(this.#clientId, {
      ...clientSecurityOptions(),
      requestTimeout: REQUEST_TIMEOUT_MS
    })
  }

  /** Creates the topic if it is missing and learns its partition leaders. */
  static async open(options: BatchProducerOptions): Promise<BatchProducer> {
    const producer = new BatchProducer(options)
    try {
      await ensureTopics(producer.#admin, [{ name: options.topic, partitions: options.partitions }])
      await producer.#learnLeaders()
      await producer.#initProducerId()
    } catch (error) {
      await producer.close()
      if (error instanceof UnavailableError) throw error
      throw new UnavailableError(describeKafkaFailure(error, options.brokers), error)
    }
    return producer
  }

  get partitions(): number {
    return this.#partitions
  }

  /** Records acknowledged by the broker so far. */
  get sent(): number {
    return this.#sent
  }

  /**
   * What the next batch of `partition`, of `records` records, carries in its header (the
   * caller seals it with this); batches of a partition must then be sent in this order.
   */
  stamp(partition: number, records: number): BatchProducerStamp {
    const baseSequence = this.#sequences[partition] ?? 0
    this.#sequences[partition] = (baseSequence + records) % SEQUENCE_WRAP
    return { producerId: this.#producerId, producerEpoch: this.#producerEpoch, baseSequence }
  }

  /** Sends batches, one request per leader; one promise per request, which rejects once its retries are spent. */
  send(batches: SealedBatch[]): Array<Promise<void>> {
    return this.#byLeader(batches).map(group => this.#send(group, 1))
  }

  async close(): Promise<void> {
    await this.#pool.close().catch(() => {})
    await this.#admin.close().catch(() => {})
  }

  #byLeader(batches: SealedBatch[]): SealedBatch[][] {
    const groups = new Map<string, SealedBatch[]>()
    for (const batch of batches) {
      const leader = this.#leaders[batch[0]]!
      const key = `${leader.host}:${leader.port}`
      let group = groups.get(key)
      if (group === undefined) groups.set(key, (group = []))
      group.push(batch)
    }
    return [...groups.values()]
  }

  async #send(batches: SealedBatch[], attempt: number): Promise<void> {
    try {
      const connection = await this.#pool.get(this.#leaders[batches[0]![0]]!)
      await produce.async(
        connection,
        ACKS_ALL,
        REQUEST_TIMEOUT_MS,
        this.topic,
        batches.map(([p, b]) => [p, b])
      )
      for (const batch of batches) this.#sent += batch[2]
    } catch (error) {
      if (attempt >= ATTEMPTS) {
        throw new UnavailableError(`cannot produce to topic ${this.topic}: ${leafMessage(error)}`, error)
      }
      await sleep(250 * attempt)
      await this.#refreshLeaders().catch(() => {})
      // Leaders may have moved: regroup before trying again.
      await Promise.all(this.#byLeader(batches).map(group => this.#send(group, attempt + 1)))
    }
  }

  /** Asks the broker for a producer id (InitProducerId, through the client library). */
  async #initProducerId(): Promise<void> {
    const client = createProducer(this.#brokers, this.#clientId)
    try {
      const { producerId, producerEpoch } = await client.initIdempotentProducer({})
      this.#producerId = producerId
      this.#producerEpoch = producerEpoch
    } finally {
      await client.close().catch(() => {})
    }
  }

  // A topic just created is unknown to the broker's metadata, or has no leaders, for a moment
  // (seconds on a loaded machine): ask again until it is known.
  async #learnLeaders(): Promise<void> {
    const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS
    for (;;) {
      try {
        return await this.#refreshLeaders()
      } catch (error) {
        if (Date.now() >= deadline) throw error
        await sleep(250)
      }
    }
  }

  async #refreshLeaders(): Promise<void> {
    const metadata = await this.#admin.metadata({ topics: [this.topic], forceUpdate: true })
    const topic = metadata.topics.get(this.topic)
    if (topic === undefined) throw new UnavailableError(`topic ${this.topic} does not exist`)
    this.#partitions = topic.partitionsCount
    this.#leaders = topic.partitions.map((p, i) => {
      const broker = metadata.brokers.get(p.leader)
      if (broker === undefined) throw new UnavailableError(`partition ${i} of ${this.topic} has no leader`)
      return { host: broker.host, port: broker.port }
    })
  }
}
