// The tasks of one assignment, and everything a commit needs from them. The Kafka runtime and
// the test driver both run their topology through this class, so the driver runs the code the
// broker path runs: building tasks (restoring owner stores from their changelogs), closing
// windows, flushing sinks, taking a commit's records and making the committed ones durable.
//
//   build(assigned)      a source task per input partition, an owner task per partials
//                        partition with its two logged stores, recovered from their changelogs
//   closeWindows(now)    owners close what their watermark passed; sinks get those windows at
//                        once, their topic records wait for the commit
//   deliver()            flushes the owners' sinks, one flush after another
//   takeCommit(now)      everything the next transaction carries, and the sink flushes it
//                        waits for (their refusals become dead letters in it)
//   committed(commit)    the transaction committed: stores write the changes locally
//   close()              stores keep their files as of the last commit, with a checkpoint
import { stringSerde, int64Serde } from '../lib/serdes.ts'
import { topicPartition, type OutgoingRecord } from '../lib/records.ts'
import type { ChangeRecord, ChangelogReader, LoggedStore, StoreSupplier } from '../stores/index.ts'
import type { TableView } from '../topology/processor.ts'
import { SourceTask } from './source-task.ts'
import type { Plan } from './plan.ts'
import type { EngineMetrics } from './metrics.ts'
import { NO_TIME } from './partials-codec.ts'
import { sourceTimesTopic } from './internal-topics.ts'
import { openOwner, type Owner } from './owner.ts'
import type { FetchedPartition, Position } from '../kafka/fetcher.ts'

/** Records processed between two turns of the event loop. */
const SLICE_RECORDS = 2048

export interface TaskManagerOptions {
  plan: Plan
  stores: StoreSupplier
  /** This instance's state folder; each owner partition's stores get a folder in it. */
  stateDir: string
  /** Reads a changelog partition back, for restore. */
  changelog: (topic: string, partition: number) => ChangelogReader
  tables: (name: string) => TableView<unknown, unknown>
  metrics: EngineMetrics
  idleTimeoutMs: number
  log: (level: 'info' | 'warn' | 'error', message: string) => void
  /** Called as restores make progress (a long restore is work, not a hang). */
  onProgress?: () => void
}

export type { Owner } from './owner.ts'

/** What one commit carries and makes durable. */
export interface Commit {
  /** The transaction's records: tasks' outboxes, partials, heartbeats, stream times, closed windows, changelog records. */
  records: OutgoingRecord[]
  /** The sinks' flushes, to wait for before committing; they resolve to the dead letters of what the sinks refused. */
  sinks: Promise<OutgoingRecord[]>
  /** Each input partition's stream time as of this commit. */
  streamTimes: Array<[string, number]>
  changes: Array<{ store: LoggedStore<unknown, unknown>; changes: ChangeRecord[] }>
}

export class TaskManager {
  readonly #options: TaskManagerOptions
  readonly sources = new Map<string, SourceTask>()
  readonly owners = new Map<string, Owner>()
  /** Stream times as of the last commit, by input partition. */
  readonly #streamTimes = new Map<string, number>()
  /** Topic records of windows closed since the last commit. */
  #closedOutputs: OutgoingRecord[] = []
  /**
   * Flushes of the owners' sinks, one after another. Windows reach sinks as they close, not
   * at the next commit: the sinks are idempotent, so a replay after a crash only writes the
   * same windows again. A failed flush fails the next commit, which redoes the work.
   */
  #delivering: Promise<void> = Promise.resolve()
  /** Dead letters of windows the sinks refused, for the next commit. */
  #refused: OutgoingRecord[] = []

  constructor(options: TaskManagerOptions) {
    this.#options = options
  }

  /**
   * Builds the tasks of `assigned` (`topic:partition`), each input partition from the stream
   * time it committed last. Returns early, with what it built, once `cancelled` says so.
   */
  async build(
    assigned: Array<{ topic: string; partition: number }>,
    streamTimes: ReadonlyMap<string, number>,
    cancelled: () => boolean = () => false
  ): Promise<void> {
    const { plan, metrics, idleTimeoutMs, tables } = this.#options
    this.#streamTimes.clear()
    for (const [id, time] of streamTimes) this.#streamTimes.set(id, time)
    for (const { topic, partition } of assigned) {
      if (cancelled()) return
      const id = topicPartition(topic, partition)
      const aggregation = plan.aggregationOfTopic(topic)
      if (aggregation === undefined) {
        this.sources.set(
          id,
          new SourceTask({
            topology: plan.topology,
            source: plan.source(topic),
            partition,
            aggregations: plan.feeds.get(topic) ?? [],
            tables,
            metrics,
            streamTime: streamTimes.get(id) ?? NO_TIME,
            idleTimeoutMs
          })
        )
      } else {
        this.owners.set(id, await openOwner(aggregation, partition, this.#options))
      }
    }
  }

  /**
   * Feeds a fetch to the tasks and moves each partition's position past it. It yields to the
   * event loop every SLICE_RECORDS records, so the round trips of a commit running in the
   * background are not held up by a whole fetch each, and stops when `cancelled` says so
   * (records of partitions that moved away must not be processed).
   */
  async process(
    fetched: FetchedPartition[],
    positions: Map<string, Position>,
    cancelled: () => boolean,
    onSlice: () => void
  ): Promise<void> {
    let now = Date.now()
    let budget = SLICE_RECORDS
    for (const part of fetched) {
      const id = topicPartition(part.topic, part.partition)
      const position = positions.get(id)
      if (position === undefined) continue
      const source = this.sources.get(id)
      const owner = source === undefined ? this.owners.get(id)?.task : undefined
      const records = part.records
      for (let i = 0; i < records.length;) {
        const end = Math.min(records.length, i + budget)
        budget -= end - i
        if (source !== undefined) for (; i < end; i++) source.process(records[i]!)
        else if (owner !== undefined) for (; i < end; i++) owner.apply(records[i]!)
        else i = end
        if (budget === 0) {
          await new Promise(resolve => setImmediate(resolve))
          onSlice()
          if (cancelled()) return
          budget = SLICE_RECORDS
          now = Date.now()
        }
      }
      if (source !== undefined) {
        this.#options.metrics.recordsIn(part.topic, part.partition, records.length)
        source.fetched(part.next >= part.end, now)
      }
      position.offset = part.next
    }
  }

  /** Closes the windows the owners' watermarks passed: sinks get them now, topics at the commit. */
  closeWindows(now: number): void {
    for (const owner of this.owners.values()) {
      for (const { watch, records } of owner.task.checkWatches())
        this.#closedOutputs.push(...owner.outputs.emitWatched(watch, records))
      this.#closedOutputs.push(...owner.outputs.emit(owner.task.punctuate(now)))
    }
  }

  /** Flushes the owners' sinks after any flush still running; rejects if any flush failed. */
  deliver(): Promise<void> {
    const owners = [...this.owners.values()]
    this.#delivering = this.#delivering.then(async () => {
      for (const owner of owners) this.#refused.push(...(await owner.outputs.flush()))
    })
    return this.#delivering
  }

  /** The records of the sources alone: outboxes, partials and heartbeats, and changed stream times. */
  drainSources(now: number): OutgoingRecord[] {
    const records: OutgoingRecord[] = []
    const times = sourceTimesTopic(this.#options.plan.applicationId)
    for (const [id, source] of this.sources) {
      records.push(...source.drain(now))
      if (source.streamTime !== this.#streamTimes.get(id)) {
        records.push({
          topic: times,
          partition: 0,
          key: stringSerde.serialize(id),
          value: int64Serde.serialize(source.streamTime)
        })
      }
    }
    return records
  }

  /**
   * Everything the next commit carries, taken now (processing goes on while it is sent): the
   * sources' records, the windows closed since the last commit (closing the due ones now),
   * the stores' changes. The sinks start flushing: the commit waits for them before it
   * commits, and carries the dead letters of what they refused. Refusals of flushes that
   * ran between commits are taken once this flush is done, before a later one can add more.
   */
  takeCommit(now: number): Commit {
    const records = this.drainSources(now)
    const streamTimes = [...this.sources].map(([id, source]) => [id, source.streamTime] as [string, number])
    this.closeWindows(now)
    records.push(...this.#closedOutputs)
    this.#closedOutputs = []
    const changes: Commit['changes'] = []
    for (const owner of this.owners.values()) {
      for (const store of owner.stores) {
        const taken = store.takeChanges()
        if (taken.length === 0) continue
        for (const change of taken)
          records.push({
            topic: store.changelog.topic,
            partition: store.changelog.partition,
            key: change.key,
            value: change.value
          })
        changes.push({ store, changes: taken })
      }
    }
    const delivered = this.deliver().then(() => this.#takeRefused())
    const sinks = Promise.all([
      delivered,
      ...[...this.sources.values()].map(async source => await source.flushSinks())
    ]).then(letters => letters.flat())
    sinks.catch(() => {}) // the committer awaits it, or drops it with a failed commit
    return { records, sinks, streamTimes, changes }
  }

  /** The commit went through: stores write its changes locally; `lastOffsets` says where each changelog partition's own records ended. */
  async committed(commit: Commit, lastOffsets: ReadonlyMap<string, bigint>): Promise<void> {
    for (const [id, time] of commit.streamTimes) this.#streamTimes.set(id, time)
    for (const { store, changes } of commit.changes) {
      await store.committed(changes, lastOffsets.get(topicPartition(store.changelog.topic, store.changelog.partition)))
    }
  }

  #takeRefused(): OutgoingRecord[] {
    const refused = this.#refused
    this.#refused = []
    return refused
  }

  /**
   * Drops every task and what it held since the last commit (windows closed, flushes waited
   * for, refusals); stores keep their files as of the last commit, with a checkpoint.
   */
  async close(): Promise<void> {
    await this.#delivering.catch(() => {})
    this.#delivering = Promise.resolve()
    this.#closedOutputs = []
    this.#refused = []
    for (const [id, owner] of this.owners) {
      this.owners.delete(id)
      for (const store of owner.stores) {
        // A store that fails to close gets no checkpoint: it is restored from 0 next time.
        await store
          .close()
          .catch((error: unknown) => this.#options.log('warn', `closing ${store.name}: ${String(error)}`))
      }
    }
    this.sources.clear()
  }
}
