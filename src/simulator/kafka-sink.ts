// Produces simulated records to Kafka as fast as the broker takes them. Records go into one
// record batch per partition (kafka/record-batch.ts); when one is full, all partitions'
// batches leave together (kafka/batch-producer.ts: one Produce request per leader), with a
// few requests in flight.
//
// Partitioning: null keys are spread round-robin, record n going to partition n % P (so a
// ground truth can tell each record's partition); with `keyed`, the key is the user id and the
// partition is murmur2(key) % P, as Kafka's Java producer computes it. Each record is written
// once, retries included (the producer is idempotent, see batch-producer.ts).
import { BatchProducer, type SealedBatch } from '../kafka/batch-producer.ts'
import { RecordBatchBuilder } from '../kafka/record-batch.ts'
import { partitionForKey } from '../lib/hash.ts'
import { type EventEncoder } from './event-json.ts'
import { type RecordSink } from './sink.ts'
import { type SimRecord } from './traffic.ts'

/** The most batches per partition an idempotent producer may have in flight: the broker keeps the last 5 of each. */
const MAX_IN_FLIGHT = 5

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
  /** Rounds of sends in flight at once; at most 5, the batches per partition an idempotent producer may have in flight. */
  maxInFlight?: number
}

export class KafkaSink implements RecordSink {
  readonly topic: string
  readonly #producer: BatchProducer
  readonly #encoder: EventEncoder
  readonly #keyed: boolean
  readonly #batchBytes: number
  readonly #maxInFlight: number
  #builders: Array<RecordBatchBuilder | undefined> = []
  #next = 0
  readonly #inFlight = new Set<Promise<unknown>>()
  #failure: unknown

  private constructor(options: KafkaSinkOptions, producer: BatchProducer) {
    this.topic = options.topic
    this.#producer = producer
    this.#encoder = options.encoder
    this.#keyed = options.keyed ?? false
    this.#batchBytes = options.batchBytes ?? 512 * 1024
    this.#maxInFlight = options.maxInFlight ?? 4
    if (!Number.isInteger(this.#maxInFlight) || this.#maxInFlight < 1 || this.#maxInFlight > MAX_IN_FLIGHT)
      throw new RangeError(
        `maxInFlight must be 1 to ${MAX_IN_FLIGHT}: the broker tells apart 5 batches in flight per partition`
      )
  }

  /** Creates the topic if it is missing and learns its partition leaders. */
  static async open(options: KafkaSinkOptions): Promise<KafkaSink> {
    const producer = await BatchProducer.open({
      brokers: options.brokers,
      topic: options.topic,
      partitions: options.partitions,
      clientId: options.clientId ?? 'cellstream-simulator'
    })
    return new KafkaSink(options, producer)
  }

  get partitions(): number {
    return this.#producer.partitions
  }

  /** Records acknowledged by the broker so far. */
  get sent(): number {
    return this.#producer.sent
  }

  write(record: SimRecord): Promise<void> | undefined {
    if (this.#failure !== undefined) throw this.#failure
    let partition: number
    let key: Buffer | null = null
    if (this.#keyed) {
      key = this.#encoder.userKey(record)
      partition = partitionForKey(key, this.partitions)
    } else {
      partition = this.#next
      this.#next = this.#next + 1 === this.partitions ? 0 : this.#next + 1
    }
    let builder = (this.#builders[partition] ??= new RecordBatchBuilder(this.#batchBytes))
    if (builder.add(key, this.#encoder, record)) return undefined
    this.#sendAll()
    const size = this.#encoder.maxBytes(record) + (key?.length ?? 0) + 128
    builder = this.#builders[partition] = new RecordBatchBuilder(Math.max(this.#batchBytes, size))
    builder.add(key, this.#encoder, record)
    if (this.#inFlight.size >= this.#maxInFlight) return Promise.race(this.#inFlight).then(() => this.#check())
    return undefined
  }

  async flush(): Promise<void> {
    this.#sendAll()
    await Promise.all(this.#inFlight)
    this.#check()
  }

  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      await this.#producer.close()
    }
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure
  }

  /** Seals every partition's batch and sends them, one request per leader. */
  #sendAll(): void {
    const now = Date.now()
    const batches: SealedBatch[] = []
    this.#builders.forEach((builder, partition) => {
      if (builder !== undefined && builder.count > 0)
        batches.push([partition, builder.seal(now, this.#producer.stamp(partition, builder.count)), builder.count])
    })
    this.#builders = []
    if (batches.length === 0) return
    // A round is in flight until every leader answered: a partition then has at most
    // maxInFlight batches in flight, whichever leader is slow.
    const round = Promise.all(
      this.#producer.send(batches).map(sent =>
        sent.catch((error: unknown) => {
          this.#failure ??= error
        })
      )
    ).then(() => {
      this.#inFlight.delete(round)
    })
    this.#inFlight.add(round)
  }
}
