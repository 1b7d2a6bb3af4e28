// Reads partitions with raw Fetch requests, at positions the caller owns. The runtime uses
// it instead of the client's message stream because exactly-once needs three things the
// stream does not give: positions set from transactionally committed offsets, no records of
// partitions that were revoked, and a read_committed filter that drops every aborted
// transaction (the client's own filter keeps all but the last aborted transaction of each
// producer in a response). It is also how changelogs and global tables are read, without a
// consumer group. Raw batches also cost less than one message object per record.
import type { Consumer } from '@platformatic/kafka'
import { topicPartition, type RawRecord, type SourceCoordinates } from '../lib/records.ts'
import { UnavailableError } from '../lib/errors.ts'
import { leafMessage } from './admin.ts'

const TRANSACTIONAL = 0x10
const CONTROL = 0x20
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

interface TopicLayout {
  id: string
  leaders: number[]
}

export class Fetcher {
  readonly #consumer: AnyConsumer
  readonly #options: Required<FetcherOptions>
  readonly #layouts = new Map<string, TopicLayout>()

  constructor(consumer: AnyConsumer, options: FetcherOptions = {}) {
    this.#consumer = consumer
    this.#options = {
      isolationLevel: options.isolationLevel ?? READ_COMMITTED,
      maxWaitMs: options.maxWaitMs ?? 200,
      maxBytes: options.maxBytes ?? 8 << 20,
      partitionMaxBytes: options.partitionMaxBytes ?? 2 << 20
    }
  }

  async #layout(topic: string, refresh = false): Promise<TopicLayout> {
    let layout = refresh ? undefined : this.#layouts.get(topic)
    if (layout === undefined) {
      const metadata = await this.#consumer.metadata({ topics: [topic], forceUpdate: refresh })
      const info = metadata.topics.get(topic)
      if (info === undefined) throw new UnavailableError(`topic ${topic} does not exist`)
      layout = { id: info.id, leaders: info.partitions.map(p => p.leader) }
      this.#layouts.set(topic, layout)
    }
    return layout
  }

  /** One fetch round over `positions` (one request per leader, in parallel). */
  async fetch(positions: Position[], maxWaitMs = this.#options.maxWaitMs): Promise<FetchedPartition[]> {
    const byLeader = new Map<number, Map<string, Position[]>>()
    const ids = new Map<string, string>()
    for (const position of positions) {
      const layout = await this.#layout(position.topic)
      ids.set(layout.id, position.topic)
      const leader = layout.leaders[position.partition]
      if (leader === undefined)
        throw new UnavailableError(`topic ${position.topic} has no partition ${position.partition}`)
      let topics = byLeader.get(leader)
      if (topics === undefined) byLeader.set(leader, (topics = new Map()))
      let list = topics.get(layout.id)
      if (list === undefined) topics.set(layout.id, (list = []))
      list.push(position)
    }
    const rounds = [...byLeader].map(async ([node, topics]) => {
      try {
        return await this.#consumer.fetch({
          node,
          maxWaitTime: maxWaitMs,
          minBytes: 1,
          maxBytes: this.#options.maxBytes,
          isolationLevel: this.#options.isolationLevel,
          topics: [...topics].map(([topicId, list]) => ({
            topicId,
            partitions: list.map(p => ({
              partition: p.partition,
              fetchOffset: p.offset,
              partitionMaxBytes: this.#options.partitionMaxBytes,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1
            }))
          }))
        })
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
            result.push({
              topic,
              partition: part.partitionIndex,
              records: [],
              next: part.logStartOffset > from ? part.logStartOffset : from,
              end: part.highWatermark
            })
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

  #decode(
    topic: string,
    part: Awaited<ReturnType<AnyConsumer['fetch']>>['responses'][number]['partitions'][number],
    from: bigint
  ): FetchedPartition {
    const records: RawRecord[] = []
    let next = from
    const aborted = [...(part.abortedTransactions ?? [])].sort((a, b) =>
      a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0
    )
    const abortedProducers = new Set<bigint>()
    let nextAborted = 0
    const partition = part.partitionIndex
    for (const batch of part.records ?? []) {
      const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta)
      if (lastOffset < from) continue
      next = lastOffset + 1n
      // An aborted transaction covers its producer's batches from its first offset up to its ABORT marker.
      while (nextAborted < aborted.length && aborted[nextAborted]!.firstOffset <= lastOffset)
        abortedProducers.add(aborted[nextAborted++]!.producerId)
      if ((batch.attributes & CONTROL) !== 0) {
        const marker = batch.records[0]?.key
        if (marker !== null && marker !== undefined && marker.length >= 4 && marker.readInt16BE(2) === 0)
          abortedProducers.delete(batch.producerId)
        continue
      }
      if ((batch.attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId)) continue
      const firstTimestamp = Number(batch.firstTimestamp)
      // Deltas below this belong to offsets before `from` (a batch that started earlier).
      const firstDelta = batch.firstOffset < from ? Number(from - batch.firstOffset) : 0
      for (const record of batch.records) {
        if (record.offsetDelta < firstDelta) continue
        records.push(
          new FetchedRecord(
            record.key,
            record.value,
            firstTimestamp + Number(record.timestampDelta),
            record.headers.length > 0 ? record.headers : undefined,
            topic,
            partition,
            batch.firstOffset,
            record.offsetDelta
          )
        )
      }
    }
    const end = this.#options.isolationLevel === READ_COMMITTED ? part.lastStableOffset : part.highWatermark
    return { topic, partition, records, next, end }
  }

  /** End offsets per partition: last stable offsets under read_committed, else high watermarks. */
  async endOffsets(topic: string): Promise<bigint[]> {
    const offsets = await this.#consumer.listOffsets({
      topics: [topic],
      timestamp: -1n,
      isolationLevel: this.#options.isolationLevel
    })
    return offsets.get(topic) ?? []
  }

  async startOffsets(topic: string): Promise<bigint[]> {
    const offsets = await this.#consumer.listOffsets({ topics: [topic], timestamp: -2n })
    return offsets.get(topic) ?? []
  }

  async partitions(topic: string): Promise<number> {
    return (await this.#layout(topic, true)).leaders.length
  }
}

/**
 * A fetched record. Its coordinates are built on first use: most records never need them
 * (only dead letters, late records and changelog reads do), and each would cost an object
 * and a BigInt.
 */
class FetchedRecord implements RawRecord {
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly timestamp: number
  readonly headers: ReadonlyArray<[Buffer | null, Buffer | null]> | undefined
  readonly #topic: string
  readonly #partition: number
  readonly #baseOffset: bigint
  readonly #delta: number
  #source: SourceCoordinates | undefined

  constructor(
    key: Buffer | null,
    value: Buffer | null,
    timestamp: number,
    headers: ReadonlyArray<[Buffer | null, Buffer | null]> | undefined,
    topic: string,
    partition: number,
    baseOffset: bigint,
    delta: number
  ) {
    this.key = key
    this.value = value
    this.timestamp = timestamp
    this.headers = headers
    this.#topic = topic
    this.#partition = partition
    this.#baseOffset = baseOffset
    this.#delta = delta
  }

  get source(): SourceCoordinates {
    this.#source ??= { topic: this.#topic, partition: this.#partition, offset: this.#baseOffset + BigInt(this.#delta) }
    return this.#source
  }
}

/** Reads `partitions` of `topic` from `from` up to the end offsets at call time, in batches. */
export async function* readToEnd(
  fetcher: Fetcher,
  topic: string,
  from: Map<number, bigint>
): AsyncGenerator<RawRecord[]> {
  const ends = await fetcher.endOffsets(topic)
  const positions = new Map<number, bigint>()
  for (const [partition, offset] of from) if (offset < (ends[partition] ?? 0n)) positions.set(partition, offset)
  while (positions.size > 0) {
    const fetched = await fetcher.fetch(
      [...positions].map(([partition, offset]) => ({ topic, partition, offset })),
      50
    )
    for (const part of fetched) {
      const end = ends[part.partition]!
      const records = part.records.filter(r => r.source.offset < end)
      if (records.length > 0) yield records
      if (part.next >= end) positions.delete(part.partition)
      else positions.set(part.partition, part.next)
    }
  }
}

/** The positions after `fetched` is processed: where the next fetch starts. */
export function positionsAfter(positions: Position[], fetched: FetchedPartition[]): Position[] {
  const next = new Map(fetched.map(part => [topicPartition(part.topic, part.partition), part.next]))
  return positions.map(p => ({
    topic: p.topic,
    partition: p.partition,
    offset: next.get(topicPartition(p.topic, p.partition)) ?? p.offset
  }))
}

/** The value of header `name` as a string, if the record has it. */
export function headerValue(record: RawRecord, name: string): string | undefined {
  for (const [key, value] of record.headers ?? []) if (key?.toString() === name) return value?.toString()
  return undefined
}
