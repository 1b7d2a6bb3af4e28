// Runs a topology without a broker, on a virtual wall clock, through the same TaskManager as
// the Kafka runtime: the same tasks, built and restored the same way, the same commits. In
// place of the broker, a commit hands each record to where the broker would deliver it:
// partials to their owner tasks, changelog records to in-memory changelog partitions, the rest
// to outputs you can read. Pipe records into input partitions, call `commit()` where the
// runtime would commit, advance the clock to test idleness, `restart()` to rebuild every task
// from what was committed (as after a crash), then read what came out.
import { UsageError } from '../lib/errors.ts'
import type { Serde } from '../lib/serdes.ts'
import { topicPartition, type OutgoingRecord, type RawRecord } from '../lib/records.ts'
import { InMemoryChangelog, inMemoryStores, type KeyValueStore, type StoreSupplier } from '../stores/index.ts'
import type { Topology } from '../topology/topology.ts'
import type { WindowedRecord } from '../topology/records.ts'
import type { TableView } from '../topology/processor.ts'
import { DEAD_LETTER_HEADERS } from '../runtime/source-task.ts'
import { makePlan, type Plan } from '../runtime/plan.ts'
import { CountingMetrics } from '../runtime/metrics.ts'
import { TaskManager } from '../runtime/task-manager.ts'
import { sourceTimesTopic } from '../runtime/internal-topics.ts'
import { int64Serde, stringSerde } from '../lib/serdes.ts'

export interface TestDriverOptions {
  applicationId?: string
  /** Partitions per input topic; 1 when not listed. */
  partitions?: Record<string, number>
  /** Partitions of each partials topic; defaults to the largest input. */
  partialsPartitions?: number
  /** Virtual wall clock at start, epoch ms. */
  now?: number
  idleTimeoutMs?: number
  /** Where local stores come from; in memory by default. */
  stores?: StoreSupplier
  /** Folder for stores that keep files (with `stores`). */
  stateDir?: string
}

export interface PipedRecord {
  key?: Buffer | string | null
  value: Buffer | string | null
  partition?: number
  /** Kafka record timestamp, epoch ms; defaults to the virtual clock. */
  timestamp?: number
}

export class TopologyTestDriver {
  readonly metrics = new CountingMetrics()
  readonly #plan: Plan
  readonly #tasks: TaskManager
  readonly #tables = new Map<
    string,
    { store: KeyValueStore<unknown, unknown>; key: Serde<unknown>; value: Serde<unknown> }
  >()
  readonly #outputs = new Map<string, OutgoingRecord[]>()
  readonly #offsets = new Map<string, bigint>()
  readonly #changelogs = new Map<string, InMemoryChangelog>()
  /** Each input partition's stream time as of the last commit (the source-times topic). */
  readonly #streamTimes = new Map<string, number>()
  #now: number

  private constructor(plan: Plan, options: TestDriverOptions) {
    this.#plan = plan
    this.#now = options.now ?? 0
    this.#tasks = new TaskManager({
      plan,
      stores: options.stores ?? inMemoryStores,
      stateDir: options.stateDir ?? '',
      changelog: (topic, partition) => this.#changelog(topic, partition),
      tables: name => this.#table(name),
      metrics: this.metrics,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      log: () => {}
    })
  }

  static async create(topology: Topology, options: TestDriverOptions = {}): Promise<TopologyTestDriver> {
    const partitions = new Map(topology.sources.map(s => [s.topic, options.partitions?.[s.topic] ?? 1]))
    const plan = makePlan(topology, options.applicationId ?? 'test', partitions, options.partialsPartitions)
    const driver = new TopologyTestDriver(plan, options)
    for (const table of topology.globalTables) {
      const store = inMemoryStores.keyValue({ name: table.topic, keySerde: table.key, valueSerde: table.value })
      await store.open()
      driver.#tables.set(table.topic, { store, key: table.key, value: table.value })
    }
    await driver.#build()
    return driver
  }

  /** Every partition of the application on this one instance, as the runtime builds them. */
  async #build(): Promise<void> {
    const assigned: Array<{ topic: string; partition: number }> = []
    for (const [topic, count] of this.#plan.inputPartitions)
      for (let partition = 0; partition < count; partition++) assigned.push({ topic, partition })
    for (const { topic, partitions } of this.#plan.aggregations)
      for (let partition = 0; partition < partitions; partition++) assigned.push({ topic, partition })
    await this.#tasks.build(assigned, this.#streamTimes)
    // Nothing waits to be read: a piped record is processed at once.
    for (const task of this.#tasks.sources.values()) task.fetched(true, this.#now)
  }

  get now(): number {
    return this.#now
  }

  advanceWallClock(ms: number): void {
    this.#now += ms
  }

  /** Processes one record on its input partition, as the runtime would on fetching it. */
  pipe(topic: string, record: PipedRecord): void {
    const partition = record.partition ?? 0
    const task = this.#tasks.sources.get(topicPartition(topic, partition))
    if (task === undefined) throw new UsageError(`topic ${topic} has no partition ${partition} in this topology`)
    task.process(this.#raw(topic, partition, record.key ?? null, record.value, record.timestamp ?? this.#now))
    task.fetched(true, this.#now)
    this.metrics.recordsIn(topic, partition, 1)
  }

  /** Updates a global table; a null value deletes the key (a tombstone). */
  pipeTable(topic: string, key: Buffer | string, value: Buffer | string | null): void {
    const table = this.#tables.get(topic)
    if (table === undefined) throw new UsageError(`no global table ${topic}`)
    const k = table.key.deserialize(toBuffer(key)!)
    if (value === null) table.store.delete(k)
    else table.store.put(k, table.value.deserialize(toBuffer(value)!))
  }

  /**
   * What the runtime does at a commit, with the broker's delivery in between: the sources'
   * partials reach their owners first (as the owners would fetch them), then a commit as the
   * runtime takes it: windows the owners' watermark passed close, sinks flush, and its
   * records go where the broker would deliver them.
   */
  async commit(): Promise<void> {
    this.#deliver(this.#tasks.drainSources(this.#now))
    const commit = this.#tasks.takeCommit(this.#now)
    const lastOffsets = this.#deliver([...commit.records, ...(await commit.sinks)])
    await this.#tasks.committed(commit, lastOffsets)
  }

  /**
   * Rebuilds every task from what was committed (stores from their changelogs), as after a
   * crash and a restart: what was piped since the last commit is dropped, and a broker would
   * deliver it again, so pipe it again.
   */
  async restart(): Promise<void> {
    await this.#tasks.close()
    await this.#build()
  }

  /** Hands records to where the broker would deliver them; returns the offset of the last one per changelog partition. */
  #deliver(records: OutgoingRecord[]): Map<string, bigint> {
    const lastOffsets = new Map<string, bigint>()
    const times = sourceTimesTopic(this.#plan.applicationId)
    for (const record of records) {
      const owner =
        record.partition === undefined
          ? undefined
          : this.#tasks.owners.get(topicPartition(record.topic, record.partition))
      if (owner !== undefined) {
        owner.task.apply(this.#raw(record.topic, record.partition!, record.key, record.value, this.#now))
      } else if (record.topic === times) {
        this.#streamTimes.set(stringSerde.deserialize(record.key!), int64Serde.deserialize(record.value!))
      } else if (record.topic.endsWith('-changelog')) {
        const offset = this.#changelog(record.topic, record.partition!).append([
          { key: record.key!, value: record.value }
        ])
        lastOffsets.set(topicPartition(record.topic, record.partition!), offset!)
      } else {
        let list = this.#outputs.get(record.topic)
        if (list === undefined) this.#outputs.set(record.topic, (list = []))
        list.push(record)
      }
    }
    return lastOffsets
  }

  /** Records produced to `topic` so far (outputs, dead letters, late records). */
  readOutput(topic: string): OutgoingRecord[] {
    return this.#outputs.get(topic) ?? []
  }

  /** Dead letters with their reason, original bytes and source coordinates. */
  deadLetters(): Array<{ reason: string; value: Buffer | null; topic: string; partition: number; offset: bigint }> {
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
  openWindows(aggregation: string): Array<{ start: number; key: unknown; value: unknown; emitted: boolean }> {
    const result: Array<{ start: number; key: unknown; value: unknown; emitted: boolean }> = []
    for (const { task } of this.#tasks.owners.values()) {
      if (task.aggregation !== aggregation) continue
      for (const entry of task.windowEntries()) result.push(entry)
    }
    return result.sort((a, b) => a.start - b.start)
  }

  /** What a sink of an aggregation (a CollectingSink) was given, merged over partitions, in order. */
  sinkRecords<K, A>(aggregation: string, sink: string): WindowedRecord<K, A>[] {
    const records: WindowedRecord<K, A>[] = []
    for (const { task, outputs } of this.#tasks.owners.values()) {
      if (task.aggregation !== aggregation) continue
      const target = outputs.sinks.get(sink)
      if (target === undefined) throw new UsageError(`aggregation ${aggregation} has no sink ${sink}`)
      if (!('records' in target)) throw new UsageError(`sink ${sink} of ${aggregation} is not a CollectingSink`)
      records.push(...(target.records as WindowedRecord<K, A>[]))
    }
    return records
  }

  streamTime(topic: string, partition = 0): number {
    return this.#tasks.sources.get(topicPartition(topic, partition))!.streamTime
  }

  #table(name: string): TableView<unknown, unknown> {
    const table = this.#tables.get(name)
    if (table === undefined) throw new UsageError(`no global table ${name}`)
    return table.store
  }

  #changelog(topic: string, partition: number): InMemoryChangelog {
    const id = topicPartition(topic, partition)
    let changelog = this.#changelogs.get(id)
    if (changelog === undefined) this.#changelogs.set(id, (changelog = new InMemoryChangelog()))
    return changelog
  }

  #raw(
    topic: string,
    partition: number,
    key: Buffer | string | null,
    value: Buffer | string | null,
    timestamp: number
  ): RawRecord {
    const id = topicPartition(topic, partition)
    const offset = this.#offsets.get(id) ?? 0n
    this.#offsets.set(id, offset + 1n)
    return { key: toBuffer(key), value: toBuffer(value), timestamp, source: { topic, partition, offset } }
  }
}

function toBuffer(value: Buffer | string | null): Buffer | null {
  return typeof value === 'string' ? Buffer.from(value) : value
}
