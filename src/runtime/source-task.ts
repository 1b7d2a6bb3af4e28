// A source task: one input partition. It deserializes each record (failures go to dead
// letters with the original bytes, the reason and the source coordinates), runs it through
// the topology's node tree, and collects everything the record caused. At commit it drains
// that outbox, then its partial aggregates, then one watermark heartbeat per partials
// partition, in that order (see partials-codec.ts for why the order matters).
import type { Serde } from '../lib/serdes.ts'
import {
  instantiate,
  rejectionReason,
  type Processor,
  type RecordSink,
  type TableView,
  type TaskContext
} from '../topology/processor.ts'
import type { OutgoingRecord, RawRecord } from '../topology/records.ts'
import type { SourceSpec, Topology } from '../topology/topology.ts'
import { PartialAggregates } from '../topology/partial-aggregates.ts'
import type { Aggregation } from '../topology/aggregation.ts'
import { encodeHeartbeat, NO_TIME, partialsCodec, type PartialsCodec } from './partials-codec.ts'
import { topicPartition } from '../lib/records.ts'
import type { EngineMetrics } from './metrics.ts'

export interface SourceTaskOptions {
  topology: Topology
  source: SourceSpec
  partition: number
  /** Aggregations this source feeds, with their partials topic and its partition count. */
  aggregations: Array<{ aggregation: Aggregation<unknown, unknown, unknown>; topic: string; partitions: number }>
  tables: (name: string) => TableView<unknown, unknown>
  metrics: EngineMetrics
  /** Stream time restored from the last commit, or NO_TIME. */
  streamTime?: number
  idleTimeoutMs: number
}

export const DEAD_LETTER_HEADERS = {
  reason: 'cellstream.error.reason',
  /** The sink that refused the record, when one did. */
  sink: 'cellstream.sink',
  topic: 'cellstream.source.topic',
  partition: 'cellstream.source.partition',
  offset: 'cellstream.source.offset'
} as const

export class SourceTask {
  readonly topic: string
  readonly partition: number
  readonly #options: SourceTaskOptions
  readonly #root: Processor<unknown, unknown>
  readonly #partials = new Map<string, PartialAggregates<unknown, unknown>>()
  readonly #codecs = new Map<string, PartialsCodec<unknown, unknown>>()
  readonly #context: TaskContext
  readonly #sinks = new Map<string, RecordSink<unknown, unknown>>()
  readonly #source: string
  #outbox: OutgoingRecord[] = []
  /**
   * Since when (wall clock) the partition has been read to its end without a new record;
   * undefined while records come or wait to be fetched. A backlog never makes it idle.
   */
  #quietSince: number | undefined
  /** The last heartbeat sent: owners keep it, so an unchanged one need not be sent again. */
  #lastHeartbeat: string | undefined

  constructor(options: SourceTaskOptions) {
    this.#options = options
    this.topic = options.source.topic
    this.partition = options.partition
    this.#source = topicPartition(this.topic, this.partition)
    const { metrics, topology } = options
    for (const { aggregation } of options.aggregations) {
      this.#partials.set(aggregation.name, new PartialAggregates(aggregation.identity))
      this.#codecs.set(aggregation.name, partialsCodec(aggregation.key, aggregation.value))
    }
    const outbox = (record: OutgoingRecord): void => {
      this.#outbox.push(record)
    }
    const partials = this.#partials
    const sinks = this.#sinks
    let lastLate: RawRecord | undefined
    this.#context = {
      topic: this.topic,
      partition: this.partition,
      streamTime: options.streamTime ?? NO_TIME,
      deadLetter(raw, reason) {
        metrics.deadLetter(reason)
        if (topology.deadLetterTopic !== undefined) outbox(deadLetterRecord(topology.deadLetterTopic, raw, reason))
      },
      late(raw, aggregation, windowStart) {
        metrics.late(aggregation)
        // A record late for several aggregations goes to the late topic once.
        if (topology.lateTopic !== undefined && raw !== lastLate) {
          lastLate = raw
          outbox({
            topic: topology.lateTopic,
            key: detached(raw.key),
            value: detached(raw.value),
            headers: {
              ...coordinates(raw),
              'cellstream.aggregation': aggregation,
              'cellstream.window.start': String(windowStart)
            }
          })
        }
      },
      send: outbox,
      table: options.tables as TaskContext['table'],
      partials: (<K, A>(name: string) =>
        partials.get(name) as unknown as PartialAggregates<K, A>) as TaskContext['partials'],
      recordSink: ((name: string, create: () => RecordSink<unknown, unknown>) => {
        let sink = sinks.get(name)
        if (sink === undefined) sinks.set(name, (sink = create()))
        return sink
      }) as TaskContext['recordSink']
    }
    this.#root = instantiate(options.source.node, this.#context)
  }

  /**
   * Flushes the task's record sinks (before the commit that covers their records); returns the
   * dead letters of the records a sink refused for their data, for that commit.
   */
  async flushSinks(): Promise<OutgoingRecord[]> {
    const letters: OutgoingRecord[] = []
    for (const [name, sink] of this.#sinks) {
      for (const { record, error } of (await sink.flush()) ?? []) {
        const reason = refusalReason(name, error)
        this.#options.metrics.deadLetter(reason)
        const { deadLetterTopic } = this.#options.topology
        if (deadLetterTopic !== undefined)
          letters.push(deadLetterRecord(deadLetterTopic, record.raw, reason, { [DEAD_LETTER_HEADERS.sink]: name }))
      }
    }
    return letters
  }

  get streamTime(): number {
    return this.#context.streamTime
  }

  process(raw: RawRecord): void {
    this.#quietSince = undefined
    const { source } = this.#options
    let key: unknown
    let value: unknown
    let timestamp: number
    try {
      key = raw.key === null || source.key === undefined ? null : deserialize(source.key, raw.key)
      if (raw.value === null) throw new Error('empty record (null value)')
      value = deserialize(source.value, raw.value)
      timestamp = source.timestamp(value, raw.timestamp)
      if (!Number.isSafeInteger(timestamp)) throw new Error(`event time is not a whole number of ms: ${timestamp}`)
    } catch (error) {
      this.#context.deadLetter(raw, rejectionReason('deserialize', error))
      return
    }
    this.#root.process({ key, value, timestamp, raw })
  }

  /** After each fetch of the partition, once its records are processed: whether it is now read to its end. */
  fetched(readToEnd: boolean, now: number): void {
    if (readToEnd) this.#quietSince ??= now
    else this.#quietSince = undefined
  }

  /**
   * True when the partition has been read to its end with no new record for the idle
   * timeout (wall clock), so it stops holding windows back.
   */
  isIdle(now: number): boolean {
    return this.#quietSince !== undefined && now - this.#quietSince >= this.#options.idleTimeoutMs
  }

  /** Everything to produce for this commit, in order: outbox, partials, heartbeats. */
  drain(now: number): OutgoingRecord[] {
    const records = this.#outbox
    this.#outbox = []
    const idle = this.isIdle(now)
    const state = `${this.streamTime}:${idle}`
    const heartbeat = state === this.#lastHeartbeat ? undefined : encodeHeartbeat(this.#source, this.streamTime, idle)
    this.#lastHeartbeat = state
    for (const { aggregation, topic, partitions } of this.#options.aggregations) {
      const codec = this.#codecs.get(aggregation.name)!
      for (const packed of codec.encodePartials(
        this.#source,
        this.#partials.get(aggregation.name)!.drain(),
        partitions
      ))
        records.push({ topic, ...packed })
      if (heartbeat !== undefined)
        for (let partition = 0; partition < partitions; partition++) records.push({ topic, partition, ...heartbeat })
    }
    return records
  }
}

function deserialize(serde: Serde<unknown>, bytes: Buffer): unknown {
  return serde.deserialize(bytes)
}

function coordinates(raw: RawRecord): Record<string, string> {
  return {
    [DEAD_LETTER_HEADERS.topic]: raw.source.topic,
    [DEAD_LETTER_HEADERS.partition]: String(raw.source.partition),
    [DEAD_LETTER_HEADERS.offset]: String(raw.source.offset)
  }
}

/** A dead letter keeps the original key and value bytes; the reason and source travel in headers. */
export function deadLetterRecord(
  topic: string,
  raw: RawRecord,
  reason: string,
  headers: Record<string, string> = {}
): OutgoingRecord {
  return {
    topic,
    key: detached(raw.key),
    value: detached(raw.value),
    headers: { [DEAD_LETTER_HEADERS.reason]: reason, ...coordinates(raw), ...headers }
  }
}

/** The dead-letter reason of a record or window a sink refused: `sink-refused: <sink>: <error>`. */
export function refusalReason(sink: string, error: string): string {
  return `sink-refused: ${sink}: ${error}`
}

/**
 * A copy of a fetched record's bytes, for records that wait for the commit: fetched bytes are
 * views of the buffers the response arrived in, which one waiting record would keep alive.
 */
function detached(bytes: Buffer | null): Buffer | null {
  return bytes === null ? null : Buffer.from(bytes)
}
