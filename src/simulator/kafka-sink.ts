// Produces simulated records to Kafka as fast as the broker takes them. Records go into one
// record batch per partition (record-batch.ts); when one is full, all partitions' batches
// leave in one Produce request per leader, with a few requests in flight. The client library
// still does the rest: metadata, connections, framing and response parsing.
//
// Partitioning: null keys are spread round-robin, record n going to partition n % P (so a
// ground truth can tell each record's partition); with `keyed`, the key is the user id and the
// partition is murmur2(key) % P, as Kafka's Java producer computes it.
// Delivery is at least once: a request that fails is retried (up to 5 attempts, with fresh
// metadata), and a retry after a timeout may write a batch twice.
import { type Admin, ConnectionPool, type Writer, createAPI, murmur2, produceV8, Writer as KafkaWriter } from '@platformatic/kafka'
import { createAdmin, ensureTopics, leafMessage } from '../kafka/admin.ts'
import { UnavailableError } from '../lib/errors.ts'
import { sleep } from '../lib/processes.ts'
import { type EventEncoder } from './event-json.ts'
import { RecordBatchBuilder } from './record-batch.ts'
import { type RecordSink } from './sink.ts'
import { type SimRecord } from './traffic.ts'

export interface KafkaSinkOptions {
  brokers: string[]
  encoder: EventEncoder
  topic: string
  /** Partitions of the topic when it has to be created; an existing topic keeps its own. */
  partitions: number
  /** Key each record by its user id instead of sending null keys. */
  keyed?: boolean
  clientId?: string
  /** Bytes of one partition's batch; the broker refuses batches over 1 MiB by default. */
  batchBytes?: number
  maxInFlight?: number
  acks?: number
}

interface Target { host: string, port: number }

const REQUEST_TIMEOUT_MS = 30_000
const ATTEMPTS = 5

function createProduceRequest (acks: number, timeoutMs: number, topic: string, batches: Array<[number, Buffer]>): Writer {
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
  0, 8, createProduceRequest, produceV8.parseResponse, false, false)

export class KafkaSink implements RecordSink {
  readonly topic: string
  readonly #admin: Admin
  readonly #pool: ConnectionPool
  readonly #encoder: EventEncoder
  readonly #keyed: boolean
  readonly #batchBytes: number
  readonly #maxInFlight: number
  readonly #acks: number
  #partitions = 0
  #leaders: Target[] = []
  #builders: Array<RecordBatchBuilder | undefined> = []
  #next = 0
  readonly #inFlight = new Set<Promise<void>>()
  #failure: unknown
  #sent = 0

  private constructor (options: KafkaSinkOptions) {
    this.topic = options.topic
    this.#encoder = options.encoder
    this.#keyed = options.keyed ?? false
    this.#batchBytes = options.batchBytes ?? 512 * 1024
    this.#maxInFlight = options.maxInFlight ?? 4
    this.#acks = options.acks ?? 1
    this.#admin = createAdmin(options.brokers, options.clientId ?? 'cellstream-simulator')
    this.#pool = new ConnectionPool(options.clientId ?? 'cellstream-simulator', { requestTimeout: REQUEST_TIMEOUT_MS })
  }

  /** Creates the topic if it is missing and learns its partition leaders. */
  static async open (options: KafkaSinkOptions): Promise<KafkaSink> {
    const sink = new KafkaSink(options)
    try {
      await ensureTopics(sink.#admin, [{ name: options.topic, partitions: options.partitions }])
      await sink.#refreshLeaders()
    } catch (error) {
      await sink.#closeClients()
      if (error instanceof UnavailableError) throw error
      throw new UnavailableError(`Kafka is not reachable at ${options.brokers.join(',')}: ${leafMessage(error)}`, error)
    }
    return sink
  }

  get partitions (): number {
    return this.#partitions
  }

  /** Records acknowledged by the broker so far. */
  get sent (): number {
    return this.#sent
  }

  write (record: SimRecord): Promise<void> | undefined {
    if (this.#failure !== undefined) throw this.#failure
    let partition: number
    let key: Buffer | null = null
    if (this.#keyed) {
      key = this.#encoder.userKey(record)
      partition = (murmur2(key) & 0x7fffffff) % this.#partitions
    } else {
      partition = this.#next
      this.#next = this.#next + 1 === this.#partitions ? 0 : this.#next + 1
    }
    let builder = this.#builders[partition] ??= new RecordBatchBuilder(this.#batchBytes)
    if (builder.add(key, this.#encoder, record)) return undefined
    this.#sendAll()
    const size = this.#encoder.maxBytes(record) + (key?.length ?? 0) + 128
    builder = this.#builders[partition] = new RecordBatchBuilder(Math.max(this.#batchBytes, size))
    builder.add(key, this.#encoder, record)
    if (this.#inFlight.size >= this.#maxInFlight) return Promise.race(this.#inFlight).then(() => this.#check())
    return undefined
  }

  async flush (): Promise<void> {
    this.#sendAll()
    await Promise.all(this.#inFlight)
    this.#check()
  }

  async close (): Promise<void> {
    try {
      await this.flush()
    } finally {
      await this.#closeClients()
    }
  }

  #check (): void {
    if (this.#failure !== undefined) throw this.#failure
  }

  /** Seals every partition's batch and sends them, one request per leader. */
  #sendAll (): void {
    const now = Date.now()
    const batches: Array<[number, Buffer, number]> = []
    this.#builders.forEach((builder, partition) => {
      if (builder !== undefined && builder.count > 0) batches.push([partition, builder.seal(now), builder.count])
    })
    this.#builders = []
    if (batches.length === 0) return
    for (const group of this.#byLeader(batches)) {
      const request = this.#send(group, 1).catch(error => { this.#failure ??= error })
      const tracked = request.then(() => { this.#inFlight.delete(tracked) })
      this.#inFlight.add(tracked)
    }
  }

  #byLeader (batches: Array<[number, Buffer, number]>): Array<Array<[number, Buffer, number]>> {
    const groups = new Map<string, Array<[number, Buffer, number]>>()
    for (const batch of batches) {
      const leader = this.#leaders[batch[0]]!
      const key = `${leader.host}:${leader.port}`
      let group = groups.get(key)
      if (group === undefined) groups.set(key, group = [])
      group.push(batch)
    }
    return [...groups.values()]
  }

  async #send (batches: Array<[number, Buffer, number]>, attempt: number): Promise<void> {
    try {
      const connection = await this.#pool.get(this.#leaders[batches[0]![0]]!)
      await produce.async(connection, this.#acks, REQUEST_TIMEOUT_MS, this.topic, batches.map(([p, b]) => [p, b]))
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

  async #refreshLeaders (): Promise<void> {
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

  async #closeClients (): Promise<void> {
    await this.#pool.close().catch(() => {})
    await this.#admin.close().catch(() => {})
  }
}
