// Reads partitions with raw Fetch requests, at positions the caller owns. The runtime uses
// it instead of the client's message stream because exactly-once needs three things the
// stream does not give: positions set from transactionally committed offsets, no records of
// partitions that were revoked, and a read_committed filter that drops every aborted
// transaction (the client's own filter keeps all but the last aborted transaction of each
// producer in a response). It is also how changelogs and global tables are read, without a
// consumer group. Requests go over the consumer's connections, and responses are parsed here:
// record batches are decoded straight from the response bytes (record-batches.ts), which
// costs far less than the client's parsing into one object per record.
import { createAPI, fetchV17, kGetConnection, type Broker, type Connection, type Consumer, type Reader } from '@platformatic/kafka'
import type { RawRecord } from '../topology/records.ts'
import { UnavailableError } from '../lib/errors.ts'
import { leafMessage } from './admin.ts'
import { decodeRecordBatches, type AbortedTransaction } from './record-batches.ts'

const OFFSET_OUT_OF_RANGE = 1
export const READ_COMMITTED = 1
export const READ_UNCOMMITTED = 0

export interface Position {
  topic: string
  partition: number
  offset: bigint
}

export interface FetchedPartition {
  topic: string
  partition: number
  records: RawRecord[]
  /** The position after this response: past every batch it held, control batches included. */
  next: bigint
  /** Last stable offset (read_committed) or high watermark: where "caught up" is. */
  end: bigint
}

export interface FetcherOptions {
  isolationLevel?: number
  maxWaitMs?: number
  /** Bytes per response; bounds memory and the time between two commits. */
  maxBytes?: number
  partitionMaxBytes?: number
}

type AnyConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>

interface TopicLayout { id: string, leaders: number[] }

interface PartitionResponse {
  partitionIndex: number
  errorCode: number
  highWatermark: bigint
  lastStableOffset: bigint
  logStartOffset: bigint
  abortedTransactions: AbortedTransaction[] | null
  /** The partition's record batches, undecoded. */
  records: Buffer | null
}

interface FetchResponse { errorCode: number, responses: Array<{ topicId: string, partitions: PartitionResponse[] }> }

interface FetchTopic {
  topicId: string
  partitions: Array<{ partition: number, fetchOffset: bigint, partitionMaxBytes: number, currentLeaderEpoch: number, lastFetchedEpoch: number }>
}

/** Fetch v17 (Kafka 3.x and 4.x): the client's request, our response parser. */
const fetchApi = createAPI<[number, number, number, number, number, number, FetchTopic[], never[], string], FetchResponse>(
  1, 17, fetchV17.createRequest, parseFetchResponse)

function parseFetchResponse (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): FetchResponse {
  reader.readInt32() // throttle time
  const errorCode = reader.readInt16()
  reader.readInt32() // session id
  const responses = reader.readArray(topic => ({
    topicId: topic.readUUID(),
    partitions: topic.readArray((r): PartitionResponse => {
      const partition: PartitionResponse = {
        partitionIndex: r.readInt32(),
        errorCode: r.readInt16(),
        highWatermark: r.readInt64(),
        lastStableOffset: r.readInt64(),
        logStartOffset: r.readInt64(),
        abortedTransactions: r.readNullableArray(a => ({ producerId: a.readInt64(), firstOffset: a.readInt64() })),
        records: null
      }
      r.readInt32() // preferred read replica
      const size = r.readUnsignedVarInt() - 1
      if (size > 0) {
        partition.records = r.buffer.slice(r.position, r.position + size)
        r.skip(size)
      }
      r.readTaggedFields()
      return partition
    }, true, false)
  }))
  // The response's own tagged fields (broker endpoints) are not needed.
  return { errorCode, responses }
}

export class Fetcher {
  readonly #consumer: AnyConsumer
  readonly #options: Required<FetcherOptions>
  readonly #layouts = new Map<string, TopicLayout>()
  readonly #brokers = new Map<number, Broker>()

  constructor (consumer: AnyConsumer, options: FetcherOptions = {}) {
    this.#consumer = consumer
    this.#options = {
      isolationLevel: options.isolationLevel ?? READ_COMMITTED,
      maxWaitMs: options.maxWaitMs ?? 200,
      maxBytes: options.maxBytes ?? 8 << 20,
      partitionMaxBytes: options.partitionMaxBytes ?? 2 << 20
    }
  }

  async #layout (topic: string, refresh = false): Promise<TopicLayout> {
    let layout = refresh ? undefined : this.#layouts.get(topic)
    if (layout === undefined) {
      const metadata = await this.#consumer.metadata({ topics: [topic], forceUpdate: refresh })
      const info = metadata.topics.get(topic)
      if (info === undefined) throw new UnavailableError(`topic ${topic} does not exist`)
      for (const [id, broker] of metadata.brokers) this.#brokers.set(id, broker)
      layout = { id: info.id, leaders: info.partitions.map(p => p.leader) }
      this.#layouts.set(topic, layout)
    }
    return layout
  }

  /** One fetch round over `positions` (one request per leader, in parallel). */
  async fetch (positions: Position[], maxWaitMs = this.#options.maxWaitMs): Promise<FetchedPartition[]> {
    const byLeader = new Map<number, Map<string, Position[]>>()
    const ids = new Map<string, string>()
    for (const position of positions) {
      const layout = await this.#layout(position.topic)
      ids.set(layout.id, position.topic)
      const leader = layout.leaders[position.partition]
      if (leader === undefined) throw new UnavailableError(`topic ${position.topic} has no partition ${position.partition}`)
      let topics = byLeader.get(leader)
      if (topics === undefined) byLeader.set(leader, topics = new Map())
      let list = topics.get(layout.id)
      if (list === undefined) topics.set(layout.id, list = [])
      list.push(position)
    }
    const rounds = [...byLeader].map(async ([node, topics]) => {
      try {
        const response = await fetchApi.async(await this.#connection(node), maxWaitMs, 1, this.#options.maxBytes, this.#options.isolationLevel, 0, -1,
          [...topics].map(([topicId, list]) => ({
            topicId,
            partitions: list.map(p => ({ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: this.#options.partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }))
          })), [], '')
        if (response.errorCode !== 0) throw new Error(`error code ${response.errorCode}`)
        return response
      } catch (error) {
        // Leadership may have moved: look the leaders up again before the next round.
        for (const topic of ids.values()) this.#layouts.delete(topic)
        throw new UnavailableError(`fetch from broker ${node} failed: ${leafMessage(error)}`, error)
      }
    })
    const requested = new Map(positions.map(p => [`${p.topic}:${p.partition}`, p.offset]))
    const result: FetchedPartition[] = []
    for (const response of await Promise.all(rounds)) {
      for (const topicResponse of response.responses) {
        const topic = ids.get(topicResponse.topicId)
        if (topic === undefined) continue
        for (const part of topicResponse.partitions) {
          const from = requested.get(`${topic}:${part.partitionIndex}`)
          if (from === undefined) continue
          if (part.errorCode === OFFSET_OUT_OF_RANGE) {
            // Retention deleted what we asked for: resume at the log start.
            result.push({ topic, partition: part.partitionIndex, records: [], next: part.logStartOffset > from ? part.logStartOffset : from, end: part.highWatermark })
            continue
          }
          if (part.errorCode !== 0) {
            this.#layouts.delete(topic)
            continue
          }
          result.push(this.#decode(topic, part, from))
        }
      }
    }
    return result
  }

  #decode (topic: string, part: PartitionResponse, from: bigint): FetchedPartition {
    const aborted = this.#options.isolationLevel === READ_COMMITTED ? part.abortedTransactions ?? [] : undefined
    const { records, next } = part.records === null
      ? { records: [], next: from }
      : decodeRecordBatches(part.records, topic, part.partitionIndex, from, aborted)
    const end = this.#options.isolationLevel === READ_COMMITTED ? part.lastStableOffset : part.highWatermark
    return { topic, partition: part.partitionIndex, records, next, end }
  }

  async #connection (node: number): Promise<Connection> {
    const broker = this.#brokers.get(node)
    if (broker === undefined) throw new Error(`broker ${node} is not in the cluster metadata`)
    return await new Promise((resolve, reject) => {
      this.#consumer[kGetConnection](broker, (error: Error | null, connection?: Connection) => { if (error === null && connection !== undefined) resolve(connection); else reject(error ?? new Error('no connection')) })
    })
  }

  /** End offsets per partition: last stable offsets under read_committed, else high watermarks. */
  async endOffsets (topic: string): Promise<bigint[]> {
    const offsets = await this.#consumer.listOffsets({ topics: [topic], timestamp: -1n, isolationLevel: this.#options.isolationLevel })
    return offsets.get(topic) ?? []
  }

  async startOffsets (topic: string): Promise<bigint[]> {
    const offsets = await this.#consumer.listOffsets({ topics: [topic], timestamp: -2n })
    return offsets.get(topic) ?? []
  }

  async partitions (topic: string): Promise<number> {
    return (await this.#layout(topic, true)).leaders.length
  }
}

/** Reads `partitions` of `topic` from `from` up to the end offsets at call time, in batches. */
export async function * readToEnd (fetcher: Fetcher, topic: string, from: Map<number, bigint>): AsyncGenerator<RawRecord[]> {
  const ends = await fetcher.endOffsets(topic)
  const positions = new Map<number, bigint>()
  for (const [partition, offset] of from) if (offset < (ends[partition] ?? 0n)) positions.set(partition, offset)
  while (positions.size > 0) {
    const fetched = await fetcher.fetch([...positions].map(([partition, offset]) => ({ topic, partition, offset })), 50)
    for (const part of fetched) {
      const end = ends[part.partition]!
      const records = part.records.filter(r => r.source.offset < end)
      if (records.length > 0) yield records
      if (part.next >= end) positions.delete(part.partition)
      else positions.set(part.partition, part.next)
    }
  }
}

/** The value of header `name` as a string, if the record has it. */
export function headerValue (record: RawRecord, name: string): string | undefined {
  for (const [key, value] of record.headers ?? []) if (key?.toString() === name) return value?.toString()
  return undefined
}
