// Runs a topology without a broker: in-memory stores, a virtual wall clock, and the same
// source and owner tasks as the Kafka runtime. Pipe records into input partitions, call
// `commit()` where the runtime would commit (partials travel to their owners and closed
// windows are emitted), advance the clock to test idleness, then read what came out.
import { UsageError } from '../lib/errors.ts'
import type { Serde } from '../lib/serdes.ts'
import { createKeyValueStore, createWindowStore, type KeyValueStore } from '../stores/index.ts'
import type { Topology } from '../topology/topology.ts'
import type { OutgoingRecord, RawRecord, WindowedRecord } from '../topology/records.ts'
import type { TableView } from '../topology/processor.ts'
import { SourceTask, DEAD_LETTER_HEADERS } from '../runtime/source-task.ts'
import { OwnerTask, ownedWindowSerde, sourceTimeSerde } from '../runtime/owner-task.ts'
import { makePlan, type Plan } from '../runtime/plan.ts'
import { CountingMetrics } from '../runtime/metrics.ts'
import { WindowOutputs } from '../runtime/window-outputs.ts'
import { stringSerde } from '../lib/serdes.ts'

export interface TestDriverOptions {
  applicationId?: string
  /** Partitions per input topic; 1 when not listed. */
  partitions?: Record<string, number>
  /** Partitions of each partials topic; defaults to the largest input. */
  partialsPartitions?: number
  /** Virtual wall clock at start, epoch ms. */
  now?: number
  idleTimeoutMs?: number
}

export interface PipedRecord {
  key?: Buffer | string | null
  value: Buffer | string | null
  partition?: number
  /** Kafka record timestamp, epoch ms; defaults to the virtual clock. */
  timestamp?: number
}

interface Owner {
  task: OwnerTask<unknown, unknown>
  outputs: WindowOutputs<unknown, unknown>
}

export class TopologyTestDriver {
  readonly metrics = new CountingMetrics()
  readonly #plan: Plan
  readonly #sources = new Map<string, SourceTask>()
  readonly #owners = new Map<string, Owner>()
  readonly #tables = new Map<string, { store: KeyValueStore<unknown, unknown>, key: Serde<unknown>, value: Serde<unknown> }>()
  readonly #outputs = new Map<string, OutgoingRecord[]>()
  readonly #offsets = new Map<string, bigint>()
  #now: number

  private constructor (plan: Plan, now: number) {
    this.#plan = plan
    this.#now = now
  }

  static async create (topology: Topology, options: TestDriverOptions = {}): Promise<TopologyTestDriver> {
    const partitions = new Map(topology.sources.map(s => [s.topic, options.partitions?.[s.topic] ?? 1]))
    const plan = makePlan(topology, options.applicationId ?? 'test', partitions, options.partialsPartitions)
    const driver = new TopologyTestDriver(plan, options.now ?? 0)
    await driver.#start(options.idleTimeoutMs ?? 30_000)
    return driver
  }

  async #start (idleTimeoutMs: number): Promise<void> {
    const { topology } = this.#plan
    for (const table of topology.globalTables) {
      const store = createKeyValueStore({ name: table.topic, keySerde: table.key, valueSerde: table.value })
      await store.open()
      this.#tables.set(table.topic, { store, key: table.key, value: table.value })
    }
    const tables = (name: string): TableView<unknown, unknown> => {
      const table = this.#tables.get(name)
      if (table === undefined) throw new UsageError(`no global table ${name}`)
      return table.store
    }
    for (const source of topology.sources) {
      for (let partition = 0; partition < this.#plan.inputPartitions.get(source.topic)!; partition++) {
        const task = new SourceTask({
          topology, source, partition, tables, metrics: this.metrics, idleTimeoutMs,
          aggregations: this.#plan.feeds.get(source.topic)!
        })
        // Nothing waits to be read: a piped record is processed at once.
        task.fetched(true, this.#now)
        this.#sources.set(`${source.topic}:${partition}`, task)
      }
    }
    for (const plan of this.#plan.aggregations) {
      for (let partition = 0; partition < plan.partitions; partition++) {
        const name = `${plan.aggregation.name}-${partition}`
        const windows = createWindowStore({ name, keySerde: plan.aggregation.key, valueSerde: ownedWindowSerde(plan.aggregation.value) })
        const sourceTimes = createKeyValueStore({ name: `${name}-sources`, keySerde: stringSerde, valueSerde: sourceTimeSerde })
        await windows.open()
        await sourceTimes.open()
        const task = new OwnerTask({ aggregation: plan.aggregation, partition, windows, sourceTimes, sources: plan.sources, metrics: this.metrics })
        this.#owners.set(`${plan.topic}:${partition}`, { task, outputs: new WindowOutputs(plan.aggregation, this.metrics, topology.deadLetterTopic) })
      }
    }
  }

  get now (): number {
    return this.#now
  }

  advanceWallClock (ms: number): void {
    this.#now += ms
  }

  /** Processes one record on its input partition, as the runtime would on fetching it. */
  pipe (topic: string, record: PipedRecord): void {
    const partition = record.partition ?? 0
    const task = this.#sources.get(`${topic}:${partition}`)
    if (task === undefined) throw new UsageError(`topic ${topic} has no partition ${partition} in this topology`)
    task.process(this.#raw(topic, partition, record.key ?? null, record.value, record.timestamp ?? this.#now))
    task.fetched(true, this.#now)
    this.metrics.recordsIn(topic, partition, 1)
  }

  /** Updates a global table; a null value deletes the key (a tombstone). */
  pipeTable (topic: string, key: Buffer | string, value: Buffer | string | null): void {
    const table = this.#tables.get(topic)
    if (table === undefined) throw new UsageError(`no global table ${topic}`)
    const k = table.key.deserialize(toBuffer(key)!)
    if (value === null) table.store.delete(k)
    else table.store.put(k, table.value.deserialize(toBuffer(value)!))
  }

  /** What the runtime does at a commit: partials to their owners, then closed windows out. */
  async commit (): Promise<void> {
    for (const task of this.#sources.values()) {
      for (const letter of await task.flushSinks()) this.#output(letter)
      for (const record of task.drain(this.#now)) {
        const owner = record.partition === undefined ? undefined : this.#owners.get(`${record.topic}:${record.partition}`)
        if (owner === undefined) this.#output(record)
        else owner.task.apply(this.#raw(record.topic, record.partition!, record.key, record.value, this.#now))
      }
    }
    for (const { task, outputs } of this.#owners.values()) {
      for (const { watch, records } of task.checkWatches()) for (const record of outputs.emitWatched(watch, records)) this.#output(record)
      for (const record of outputs.emit(task.punctuate(this.#now))) this.#output(record)
      for (const letter of await outputs.flush()) this.#output(letter)
    }
  }

  /** Records produced to `topic` so far (outputs, dead letters, late records). */
  readOutput (topic: string): OutgoingRecord[] {
    return this.#outputs.get(topic) ?? []
  }

  /** Dead letters with their reason, original bytes and source coordinates. */
  deadLetters (): Array<{ reason: string, value: Buffer | null, topic: string, partition: number, offset: bigint }> {
    const topic = this.#plan.topology.deadLetterTopic
    if (topic === undefined) throw new UsageError('the topology has no dead-letter topic')
    return this.readOutput(topic).map(r => ({
      reason: r.headers![DEAD_LETTER_HEADERS.reason]!,
      value: r.value,
      topic: r.headers![DEAD_LETTER_HEADERS.topic]!,
      partition: Number(r.headers![DEAD_LETTER_HEADERS.partition]),
      offset: BigInt(r.headers![DEAD_LETTER_HEADERS.offset]!)
    }))
  }

  /** Open windows of an aggregation, over all its owner partitions. */
  openWindows (aggregation: string): Array<{ start: number, key: unknown, value: unknown, emitted: boolean }> {
    const result: Array<{ start: number, key: unknown, value: unknown, emitted: boolean }> = []
    for (const { task } of this.#owners.values()) {
      if (task.aggregation !== aggregation) continue
      for (const entry of task.windowEntries()) result.push(entry)
    }
    return result.sort((a, b) => a.start - b.start)
  }

  /** The sink an aggregation's owners write to, merged over partitions: what it was given, in order. */
  sinkRecords<K, A> (aggregation: string, sink: string): WindowedRecord<K, A>[] {
    const records: WindowedRecord<K, A>[] = []
    for (const { task, outputs } of this.#owners.values()) {
      if (task.aggregation !== aggregation) continue
      const target = outputs.sinks.get(sink) as { records?: WindowedRecord<K, A>[] } | undefined
      if (target?.records !== undefined) records.push(...target.records)
    }
    return records
  }

  streamTime (topic: string, partition = 0): number {
    return this.#sources.get(`${topic}:${partition}`)!.streamTime
  }

  #raw (topic: string, partition: number, key: Buffer | string | null, value: Buffer | string | null, timestamp: number): RawRecord {
    const id = `${topic}:${partition}`
    const offset = this.#offsets.get(id) ?? 0n
    this.#offsets.set(id, offset + 1n)
    return { key: toBuffer(key), value: toBuffer(value), timestamp, source: { topic, partition, offset } }
  }

  #output (record: OutgoingRecord): void {
    let list = this.#outputs.get(record.topic)
    if (list === undefined) this.#outputs.set(record.topic, list = [])
    list.push(record)
  }
}

function toBuffer (value: Buffer | string | null): Buffer | null {
  return typeof value === 'string' ? Buffer.from(value) : value
}
