// The Kafka runtime: one instance of a stream application. Instances with the same
// application id form a consumer group over the input topics and the partials topics, so
// partitions (and their state) move between instances as they come and go.
//
// One loop does everything:
//   fetch (read_committed) → source tasks and owner tasks process → owners close the windows
//   their watermark passed, and their sinks get them at once (in the background) → every
//   commit interval: one transaction with everything the tasks produced (dead letters, late
//   records, partials, heartbeats, stream times, window outputs, changelog records) and the
//   positions of every assigned partition; every sink is flushed before it commits; local
//   stores persist after. A commit takes its snapshot synchronously and then runs beside the
//   processing of the next fetches.
// A rebalance or a failed commit discards everything since the last commit: tasks are
// rebuilt from committed state (local stores as of the last commit, positions from the
// group's committed offsets), so work is redone, never lost or counted twice. Failures (the
// broker or a sink unreachable) are retried after a capped, jittered back-off for as long as
// they last (failures.ts); status() tells a balancer meanwhile that the instance is not ready.
import { randomUUID } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Admin, Consumer, ProduceResult, Producer } from '@platformatic/kafka'
import { createAdmin, DEFAULT_MAX_MESSAGE_BYTES, ensureTopics, messageLimits, type TopicSpec } from '../kafka/admin.ts'
import { createConsumer, createTransactionalProducer } from '../kafka/clients.ts'
import { Fetcher, readToEnd, type FetchedPartition, type Position } from '../kafka/fetcher.ts'
import { errorMessage, UnavailableError } from '../lib/errors.ts'
import { DEFAULT_FAILURE_POLICY, Failures, isBug } from './failures.ts'
import { int64Serde, stringSerde } from '../lib/serdes.ts'
import { LevelKeyValueStore, TimeWindowStore, recoverStore, closeStore, windowedSerde, type ChangeRecord, type LocalStore } from '../stores/index.ts'
import type { Topology } from '../topology/topology.ts'
import { changelogTopic } from '../topology/topology.ts'
import { recordHeaders, type OutgoingRecord } from '../topology/records.ts'
import { SourceTask } from './source-task.ts'
import { OwnerTask, ownedWindowSerde, sourceTimeSerde } from './owner-task.ts'
import { makePlan, type AggregationPlan, type Plan } from './plan.ts'
import { GlobalTables } from './global-tables.ts'
import { noMetrics, type EngineMetrics } from './metrics.ts'
import { WindowOutputs } from './window-outputs.ts'
import { changelogReader } from './kafka-changelog.ts'
import { NO_TIME } from './partials-codec.ts'
import { BATCH_OVERHEAD, recordSize, TopicLimits } from './topic-limits.ts'
import { isInternalTopic } from './reset.ts'
import { sleep } from '../lib/processes.ts'

export interface StreamAppOptions {
  topology: Topology
  /** Names the consumer group and prefixes internal topics. */
  applicationId: string
  brokers: string[]
  /** This instance's own folder: local stores and its instance id. Never shared by two instances. */
  stateDir: string
  commitIntervalMs?: number
  idleTimeoutMs?: number
  /** Partitions of each partials topic and changelog; defaults to the largest input. */
  partialsPartitions?: number
  metrics?: EngineMetrics
  log?: (level: 'info' | 'warn' | 'error', message: string) => void
  /** Give up (the loop ends with an UnavailableError) after failing this long; default: never. */
  giveUpAfterMs?: number
  /** The loop counts as stuck (not live) when it has not turned for this long. Default 180 s. */
  stuckAfterMs?: number
}

/** What a running instance reports to health checks and balancers. */
export interface InstanceStatus {
  /** The processing loop turns (or waits out an outage on purpose): a restart would not help if false is never seen. */
  live: boolean
  /** Processing and committing: false while starting, restoring state, failing or stopped. */
  ready: boolean
  /** Why it is not ready. */
  reason?: string
  commits: number
  /** Since when commits or turns have failed in a row (epoch ms). */
  failingSince?: number
  assignment: string[]
}

interface Owner {
  plan: AggregationPlan
  task: OwnerTask<unknown, unknown>
  /** The task's window store and source-time store, each with its changelog. */
  stores: LoggedStore[]
  outputs: WindowOutputs<unknown, unknown>
}

interface LoggedStore {
  local: LocalStore<unknown, unknown>
  changelog: string
  /**
   * Every record of the store's changelog partition below this offset is in the local files:
   * the restore's end, then just past this instance's own last committed write (from the
   * produce responses). What the checkpoint says at close. Not the changelog's end offset:
   * after a rebalance another instance may already have written there.
   */
  completeUpTo: bigint
}

const key = (topic: string, partition: number): string => `${topic}:${partition}`
/** Records processed between two turns of the event loop. */
const SLICE_RECORDS = 2048
/** How often owners look for windows to close between commits. */
const CLOSE_INTERVAL_MS = 100
/** How long registering the transactional id at start may take (the client retries without end). */
const REGISTER_TIMEOUT_MS = 60_000

export class StreamApp {
  readonly #options: Required<Omit<StreamAppOptions, 'partialsPartitions' | 'giveUpAfterMs'>> & { partialsPartitions?: number, giveUpAfterMs?: number }
  #plan: Plan | undefined
  #admin: Admin | undefined
  #consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined
  #tableConsumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined
  #producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined
  #fetcher: Fetcher | undefined
  #tables: GlobalTables | undefined
  #limits: TopicLimits | undefined
  #instanceId = ''
  readonly #sources = new Map<string, SourceTask>()
  readonly #owners = new Map<string, Owner>()
  /** Next offset to fetch per assigned partition, and as of the last commit. */
  readonly #positions = new Map<string, Position>()
  readonly #committed = new Map<string, bigint>()
  readonly #streamTimes = new Map<string, number>()
  #rebalanced = true
  #stopping = false
  #loop: Promise<void> | undefined
  #lastCommit = 0
  #committing: Promise<void> | undefined
  #lastClose = 0
  /** Topic records of windows closed since the last commit, for its transaction. */
  #closedOutputs: OutgoingRecord[] = []
  /**
   * Flushes of the owners' sinks, one after another. Windows reach sinks as they close, not
   * at the next commit: the sinks are idempotent, so a replay after a crash only writes the
   * same windows again. A failed flush fails the next commit, which redoes the work.
   */
  #delivering: Promise<void> = Promise.resolve()
  /** Dead letters of windows the sinks refused, for the next commit's transaction. */
  #refused: OutgoingRecord[] = []
  /** Failures in a row (rebalances aside), and the back-off they call for. */
  readonly #failures: Failures
  /** No work before this time (epoch ms): the back-off after a failure. */
  #pausedUntil = 0
  /** Set when failures lasted past --give-up-after: the loop ends with it. */
  #fatal: Error | undefined
  /** What the loop does now, for status(). */
  #phase: 'starting' | 'restoring' | 'running' | 'stopped' = 'starting'
  /** When the loop last turned, for liveness. */
  #beat = Date.now()
  /**
   * The group membership the tasks were built for. Every offset commit names it, so once the
   * group has moved to another generation the broker refuses the commit, even if this
   * instance has not heard of the rebalance yet.
   */
  #membership: { groupId: string, generationId: number, memberId: string, coordinatorId: number } | undefined
  /** Commits done, for tests and metrics. */
  commits = 0

  constructor (options: StreamAppOptions) {
    this.#options = {
      commitIntervalMs: 1000,
      idleTimeoutMs: 30_000,
      metrics: noMetrics,
      log: () => {},
      stuckAfterMs: 180_000,
      ...options
    }
    this.#failures = new Failures({ ...DEFAULT_FAILURE_POLICY, giveUpAfterMs: options.giveUpAfterMs })
  }

  /** Liveness and readiness, for /health and /ready. */
  status (now = Date.now()): InstanceStatus {
    const phase = this.#phase
    const live = phase !== 'stopped' && now - this.#beat < this.#options.stuckAfterMs
    const failingSince = this.#failures.since
    let reason: string | undefined
    if (phase !== 'running') reason = phase === 'restoring' ? 'restoring state' : phase
    else if (failingSince !== undefined) reason = `failing for ${Math.round((now - failingSince) / 1000)} s, retrying: ${this.#failures.last}`
    if (!live && phase !== 'stopped') reason = `the processing loop has not turned for ${Math.round((now - this.#beat) / 1000)} s`
    return { live, ready: reason === undefined, reason, commits: this.commits, failingSince, assignment: this.assignment }
  }

  get sourceTimesTopic (): string {
    return `${this.#options.applicationId}-source-times`
  }

  /** True while a commit runs (it runs beside the processing). */
  get committing (): boolean {
    return this.#committing !== undefined
  }

  /** Partitions this instance works on now. */
  get assignment (): string[] {
    return [...this.#positions.keys()].sort()
  }

  /** Joins the group and starts processing; resolves once global tables are loaded and the loop runs. */
  async start (): Promise<void> {
    try {
      await this.#start()
    } catch (error) {
      // Open clients would keep the process alive.
      await this.#shutdown()
      throw error
    }
  }

  async #start (): Promise<void> {
    const { brokers, applicationId, topology } = this.#options
    this.#instanceId = await this.#loadInstanceId()
    this.#admin = createAdmin(brokers, `${applicationId}-admin`)
    const inputPartitions = new Map<string, number>()
    for (const source of topology.sources) {
      const metadata = await this.#admin.metadata({ topics: [source.topic] })
      const info = metadata.topics.get(source.topic)
      if (info === undefined) throw new Error(`input topic ${source.topic} does not exist`)
      inputPartitions.set(source.topic, info.partitionsCount)
    }
    this.#plan = makePlan(topology, applicationId, inputPartitions, this.#options.partialsPartitions)
    await ensureTopics(this.#admin, await this.#internalTopics(this.#plan))
    this.#limits = new TopicLimits(this.#admin, topology.deadLetterTopic, topic => isInternalTopic(applicationId, topic))

    this.#tableConsumer = createConsumer(brokers, `${applicationId}-tables-${this.#instanceId}`, `${applicationId}-tables`)
    this.#tables = new GlobalTables(this.#tableConsumer, topology.globalTables, message => this.#options.log('warn', message))
    await this.#tables.start()

    this.#producer = createTransactionalProducer(brokers, `${applicationId}-${this.#instanceId}`, `${applicationId}-${this.#instanceId}`)
    await this.#fencePredecessor()
    this.#consumer = createConsumer(brokers, `${applicationId}-${this.#instanceId}`, applicationId)
    // A response's records stay alive until processed, and the prefetch keeps a second one:
    // small responses keep that short-lived, so the garbage collector reclaims it young.
    this.#fetcher = new Fetcher(this.#consumer, { maxBytes: 1 << 20, partitionMaxBytes: 256 << 10, maxWaitMs: 100 })
    // A join brings a new assignment; a cooperative rebalance revokes partitions first and a
    // rejoin follows a lost membership: any of them rebuilds the tasks.
    for (const event of ['consumer:group:join', 'consumer:group:rebalance', 'consumer:rejoin', 'consumer:group:leave']) this.#consumer.on(event, () => { this.#rebalanced = true })
    this.#consumer.topics.trackAll(...topology.sources.map(s => s.topic), ...this.#plan.aggregations.map(a => a.topic))
    await this.#consumer.joinGroup({})
    this.#loop = this.#run()
  }

  /** Commits what is processed, leaves the group and closes stores (writing checkpoints). */
  async stop (): Promise<void> {
    this.#stopping = true
    await this.#loop
  }

  /** Resolves when the loop ends (after stop(), or with its error). */
  get done (): Promise<void> {
    return this.#loop ?? Promise.resolve()
  }

  async #run (): Promise<void> {
    // The next fetch is sent before the current one is processed, so the broker round trip
    // overlaps the work; a rebalance discards it with everything else since the last commit.
    let prefetch: Promise<FetchedPartition[]> | undefined
    try {
      while (!this.#stopping) {
        this.#beat = Date.now()
        if (this.#fatal !== undefined) throw this.#fatal
        if (this.#beat < this.#pausedUntil) {
          // Waiting out an outage: short naps, so a stop is not held up.
          await sleep(Math.min(250, this.#pausedUntil - this.#beat))
          continue
        }
        try {
          if (this.#rebalanced) {
            prefetch = undefined
            await this.#reassign()
          }
          const positions = [...this.#positions.values()]
          if (positions.length === 0) {
            await sleep(100)
          } else {
            const fetched = await (prefetch ?? this.#fetcher!.fetch(positions))
            prefetch = undefined
            // Records fetched across a rebalance may belong to partitions that moved away.
            if (!this.#rebalanced) {
              prefetch = this.#fetcher!.fetch(advance(positions, fetched))
              prefetch.catch(() => {}) // awaited (or dropped) on the next turn
              await this.#process(fetched)
            }
            if (!this.#rebalanced && Date.now() - this.#lastClose >= CLOSE_INTERVAL_MS) {
              this.#closeWindows(Date.now())
              this.#deliver().catch(() => {}) // a failure fails the next commit
            }
          }
          if (!this.#rebalanced && this.#committing === undefined && Date.now() - this.#lastCommit >= this.#options.commitIntervalMs) {
            // The commit runs while the loop goes on processing: it took its snapshot synchronously.
            this.#committing = this.#commitOrReset().finally(() => { this.#committing = undefined })
          }
        } catch (error) {
          // Redo from the last commit, as after a rebalance, once the back-off has passed.
          // A bug ends the loop at once: no wait makes it go away.
          if (isBug(error)) throw error
          this.#phase = 'running'
          const wait = this.#failures.failed('processing', error)
          this.#options.log('warn', `${errorMessage(error)}; redoing from the last commit in ${(wait / 1000).toFixed(1)} s`)
          prefetch = undefined
          this.#rebalanced = true
          this.#pausedUntil = Date.now() + wait
        }
      }
      await prefetch?.catch(() => {})
      await this.#committing
      if (!this.#rebalanced) await this.#commitOrReset()
    } finally {
      this.#phase = 'stopped'
      await this.#shutdown()
    }
  }

  /**
   * Feeds a fetch to the tasks. It yields to the event loop every SLICE_RECORDS records, so
   * the round trips of a commit running in the background are not held up by a whole fetch
   * each. No commit takes its snapshot in the middle: commits start between two fetches.
   */
  async #process (fetched: FetchedPartition[]): Promise<void> {
    let now = Date.now()
    let budget = SLICE_RECORDS
    for (const part of fetched) {
      const id = key(part.topic, part.partition)
      const position = this.#positions.get(id)
      if (position === undefined) continue
      const source = this.#sources.get(id)
      const owner = source === undefined ? this.#owners.get(id)?.task : undefined
      const records = part.records
      for (let i = 0; i < records.length;) {
        const end = Math.min(records.length, i + budget)
        budget -= end - i
        if (source !== undefined) for (; i < end; i++) source.process(records[i]!)
        else if (owner !== undefined) for (; i < end; i++) owner.apply(records[i]!)
        else i = end
        if (budget === 0) {
          await new Promise(resolve => setImmediate(resolve))
          // What was fetched for partitions that moved away must not be processed.
          if (this.#rebalanced) return
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

  async #commitOrReset (): Promise<void> {
    try {
      await this.#commit()
      this.#failures.succeeded()
    } catch (error) {
      // A rebalance during a commit is routine; any other failure waits its back-off.
      if (error instanceof RebalancedDuringCommit) {
        this.#options.log('info', 'the group rebalanced during a commit; redoing from the last commit')
      } else if (isBug(error)) {
        this.#fatal = error as Error
      } else {
        this.#options.metrics.commitFailed()
        try {
          const wait = this.#failures.failed('commit', error)
          this.#pausedUntil = Date.now() + wait
          this.#options.log('warn', `commit failed, redoing from the last commit in ${(wait / 1000).toFixed(1)} s: ${errorMessage(error)}`)
        } catch (fatal) {
          this.#fatal = fatal as Error
        }
      }
      await this.#resetProducer()
      this.#rebalanced = true
    }
  }

  async #commit (): Promise<void> {
    const now = Date.now()
    this.#lastCommit = now
    const records: OutgoingRecord[] = []
    for (const [id, source] of this.#sources) {
      records.push(...source.drain(now))
      if (source.streamTime !== this.#streamTimes.get(id)) {
        records.push({ topic: this.sourceTimesTopic, partition: 0, key: stringSerde.serialize(id), value: int64Serde.serialize(source.streamTime) })
      }
    }
    this.#closeWindows(now)
    records.push(...this.#closedOutputs)
    this.#closedOutputs = []
    const persists: Array<{ store: LoggedStore, partition: number, changes: ChangeRecord[] }> = []
    for (const owner of this.#owners.values()) {
      for (const store of owner.stores) {
        const changes = store.local.takeChanges()
        if (changes.length === 0) continue
        const partition = owner.task.partition
        for (const change of changes) records.push({ topic: store.changelog, partition, key: change.key, value: change.value })
        persists.push({ store, partition, changes })
      }
    }
    // Processing goes on during the commit: take the positions and stream times of now.
    const moved = [...this.#positions].filter(([id, p]) => this.#committed.get(id) !== p.offset).map(([id, p]) => ({ id, ...p }))
    // Offsets carry the group generation, which the broker checks: a transaction that writes
    // carries at least one (an unmoved one if need be, as committed), so an instance that lost
    // its partitions cannot commit.
    const offsets = moved.length > 0 ? moved : [...this.#positions].filter(([id]) => this.#committed.has(id)).slice(0, 1).map(([id, p]) => ({ id, ...p, offset: this.#committed.get(id)! }))
    const streamTimes = [...this.#sources].map(([id, source]) => [id, source.streamTime] as const)
    if (records.length === 0 && moved.length === 0) return

    // Sinks write (the owners' to Postgres, the sources' archive on DuckDB's thread) while
    // the transaction's records are sent; all are done before it commits, and the dead letters
    // of what they refused go into it. Refusals of flushes that ran between commits are taken
    // once this commit's flush is done, before any later flush can add more.
    const lastOffsets = new Map<string, bigint>()
    const delivered = this.#deliver().then(() => this.#takeRefused())
    const sinks = Promise.all([delivered, ...[...this.#sources.values()].map(async source => await source.flushSinks())])
    sinks.catch(() => {}) // awaited below, or after a failed send
    const transaction = await this.#producer!.beginTransaction().catch(async (error: unknown) => {
      await sinks.catch(() => {})
      throw error
    })
    try {
      await this.#send(transaction, records, lastOffsets)
      const refused = (await sinks).flat()
      await this.#send(transaction, refused, lastOffsets)
      this.#assertMembership()
      if (offsets.length > 0) {
        await transaction.addConsumer(this.#consumer!)
        const group = this.#membership
        for (const p of offsets) {
          // The client commits `offset + 1`: hand it the offset before the position.
          await transaction.addOffset({ topic: p.topic, partition: p.partition, offset: p.offset - 1n, metadata: { consumer: group } } as never)
        }
      }
      this.#assertMembership()
      await transaction.commit()
    } catch (error) {
      await sinks.catch(() => {})
      await transaction.abort().catch(() => {})
      throw error
    }
    this.commits++
    for (const p of moved) this.#committed.set(p.id, p.offset)
    for (const [id, streamTime] of streamTimes) this.#streamTimes.set(id, streamTime)
    for (const { store, partition, changes } of persists) {
      await store.local.persist(changes)
      // Without a reported offset the earlier bound still holds: a restore from it replays
      // this instance's own records, which leaves the same state.
      const last = lastOffsets.get(key(store.changelog, partition))
      if (last !== undefined) store.completeUpTo = last + 1n
    }
  }

  /**
   * Sends records in the transaction, those too large for their topic as dead letters
   * (topic-limits.ts), noting the offset of the last record per partition in `lastOffsets`.
   */
  async #send (transaction: Awaited<ReturnType<Producer<Buffer, Buffer, Buffer, Buffer>['beginTransaction']>>, records: OutgoingRecord[], lastOffsets: Map<string, bigint>): Promise<void> {
    if (records.length === 0) return
    const limits = this.#limits!
    await limits.learn(records)
    const fitted = limits.fit(records)
    const limitOf = (topic: string): number => limits.limit(topic)
    // Sends go one after the other: concurrent sends inside one transaction are not safe
    // with this client. Each send is a bounded chunk, which caps the memory the client's
    // encoding takes and keeps every partition's batch under its topic's size limit.
    for (let from = 0; from < fitted.length;) {
      const to = chunkEnd(fitted, from, limitOf)
      const chunk = fitted.slice(from, to)
      noteLastOffsets(lastOffsets, chunk, await transaction.send({ messages: chunk.map(toMessage) as never }))
      from = to
    }
  }

  /** Throws if the tasks' group generation is no longer the client's (a rebalance, maybe not yet announced). */
  #assertMembership (): void {
    if (this.#rebalanced || this.#consumer!.generationId !== this.#membership?.generationId) throw new RebalancedDuringCommit()
  }

  /** Closes the windows the owners' watermarks passed: sinks get them now, topics at the commit. */
  #closeWindows (now: number): void {
    this.#lastClose = now
    for (const owner of this.#owners.values()) {
      for (const { watch, records } of owner.task.checkWatches()) this.#closedOutputs.push(...owner.outputs.emitWatched(watch, records))
      this.#closedOutputs.push(...owner.outputs.emit(owner.task.punctuate(now)))
    }
  }

  /**
   * Flushes the owners' sinks after any flush still running; rejects if any flush failed.
   * Dead letters of refused windows wait in #refused for the next commit.
   */
  #deliver (): Promise<void> {
    const owners = [...this.#owners.values()]
    this.#delivering = this.#delivering.then(async () => {
      for (const owner of owners) this.#refused.push(...await owner.outputs.flush())
    })
    return this.#delivering
  }

  #takeRefused (): OutgoingRecord[] {
    const refused = this.#refused
    this.#refused = []
    return refused
  }

  /** Rebuilds every task from committed state for the current assignment. */
  async #reassign (): Promise<void> {
    await this.#committing
    // Windows closed since the last commit are closed again by the rebuilt tasks.
    await this.#delivering.catch(() => {})
    this.#delivering = Promise.resolve()
    this.#closedOutputs = []
    this.#refused = []
    this.#limits!.clear()
    this.#rebalanced = false
    this.#phase = 'restoring'
    await this.#closeTasks()
    const consumer = this.#consumer!
    const plan = this.#plan!
    const assigned: Array<{ topic: string, partition: number }> = []
    for (const { topic, partitions } of consumer.assignments ?? []) for (const partition of partitions) assigned.push({ topic, partition })
    this.#membership = { groupId: consumer.groupId, generationId: consumer.generationId, memberId: consumer.memberId!, coordinatorId: consumer.coordinatorId! }
    this.#options.log('info', `assigned ${assigned.length} partitions (generation ${consumer.generationId})`)

    const committed = await this.#committedOffsets(assigned)
    await this.#loadStreamTimes()
    for (const { topic, partition } of assigned) {
      if (this.#rebalanced) return
      const id = key(topic, partition)
      const aggregation = plan.aggregationOfTopic(topic)
      if (aggregation === undefined) {
        this.#sources.set(id, new SourceTask({
          topology: plan.topology,
          source: plan.source(topic),
          partition,
          aggregations: plan.feeds.get(topic) ?? [],
          tables: name => this.#tables!.view(name),
          metrics: this.#options.metrics,
          streamTime: this.#streamTimes.get(id) ?? NO_TIME,
          idleTimeoutMs: this.#options.idleTimeoutMs
        }))
      } else {
        this.#owners.set(id, await this.#openOwner(aggregation, partition))
      }
      this.#positions.set(id, { topic, partition, offset: committed.get(id)! })
      this.#committed.set(id, committed.get(id)!)
    }
    this.#lastCommit = Date.now()
    this.#phase = 'running'
  }

  async #openOwner (plan: AggregationPlan, partition: number): Promise<Owner> {
    const { applicationId, stateDir, metrics } = this.#options
    const name = plan.aggregation.name
    const dir = join(stateDir, applicationId, `${name}-${partition}`)
    const windowsLocal = new LevelKeyValueStore({ name: `${name}-windows-${partition}`, dir: join(dir, 'windows'), keySerde: windowedSerde(plan.aggregation.key), valueSerde: ownedWindowSerde(plan.aggregation.value) })
    const sourcesLocal = new LevelKeyValueStore({ name: `${name}-sources-${partition}`, dir: join(dir, 'sources'), keySerde: stringSerde, valueSerde: sourceTimeSerde })
    const stores: LoggedStore[] = []
    try {
      for (const [store, suffix] of [[windowsLocal, 'windows'], [sourcesLocal, 'sources']] as const) {
        const changelog = changelogTopic(applicationId, `${name}-${suffix}`)
        const result = await recoverStore(store, changelogReader(this.#fetcher!, changelog, partition), { onProgress: () => { this.#beat = Date.now() } })
        stores.push({ local: store as LocalStore<unknown, unknown>, changelog, completeUpTo: result.endOffset })
        metrics.restored(store.name, result.records)
        if (result.records > 0) this.#options.log('info', `restored ${result.records} records into ${store.name} ${result.fromCheckpoint ? 'after its checkpoint' : 'from its changelog'}`)
      }
    } catch (error) {
      // Let go of LevelDB's locks. A store already restored keeps its checkpoint; the one whose
      // restore failed gets none, and the next attempt restores it again.
      for (const store of stores) await closeStore(store.local, store.completeUpTo).catch(() => {})
      for (const store of [windowsLocal, sourcesLocal]) await store.close().catch(() => {})
      throw error
    }
    const windows = new TimeWindowStore(windowsLocal)
    const task = new OwnerTask({ aggregation: plan.aggregation, partition, windows, sourceTimes: sourcesLocal, sources: plan.sources, metrics })
    return { plan, task, stores, outputs: new WindowOutputs(plan.aggregation, metrics, this.#options.topology.deadLetterTopic) }
  }

  /** Closes tasks; stores keep their files as of the last commit and record it in a checkpoint. */
  async #closeTasks (): Promise<void> {
    for (const [id, owner] of this.#owners) {
      this.#owners.delete(id)
      for (const store of owner.stores) {
        // A store that fails to close gets no checkpoint: it is restored from 0 next time.
        await closeStore(store.local, store.completeUpTo).catch(error => this.#options.log('warn', `closing ${store.local.name}: ${errorMessage(error)}`))
      }
    }
    this.#sources.clear()
    this.#positions.clear()
    this.#committed.clear()
  }

  /** Committed offsets, waiting for any pending transaction that commits some (requireStable). */
  async #committedOffsets (partitions: Array<{ topic: string, partition: number }>): Promise<Map<string, bigint>> {
    const result = new Map<string, bigint>()
    if (partitions.length === 0) return result
    const topics = new Map<string, number[]>()
    for (const { topic, partition } of partitions) topics.set(topic, [...(topics.get(topic) ?? []), partition])
    const groups = await this.#admin!.listConsumerGroupOffsets({
      groups: [{ groupId: this.#options.applicationId, topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }],
      requireStable: true
    } as never) as Array<{ topics: Array<{ name: string, partitions: Array<{ partitionIndex: number, committedOffset: bigint }> }> }>
    for (const group of groups) {
      for (const topic of group.topics) for (const p of topic.partitions) if (p.committedOffset >= 0n) result.set(key(topic.name, p.partitionIndex), p.committedOffset)
    }
    for (const [topic, list] of topics) {
      if (list.every(p => result.has(key(topic, p)))) continue
      const starts = await this.#fetcher!.startOffsets(topic)
      for (const p of list) if (!result.has(key(topic, p))) result.set(key(topic, p), starts[p] ?? 0n)
    }
    return result
  }

  async #loadStreamTimes (): Promise<void> {
    this.#streamTimes.clear()
    for await (const batch of readToEnd(this.#fetcher!, this.sourceTimesTopic, new Map([[0, 0n]]))) {
      for (const record of batch) {
        if (record.key !== null && record.value !== null) this.#streamTimes.set(stringSerde.deserialize(record.key), int64Serde.deserialize(record.value))
      }
    }
  }

  async #internalTopics (plan: Plan): Promise<TopicSpec[]> {
    const { topology, applicationId } = this.#options
    const inputs = Math.max(...plan.inputPartitions.values())
    // Dead letters and late records carry input records whole, with headers: they take what
    // the inputs take, and room for the headers.
    const inputLimits = await messageLimits(this.#admin!, [...plan.inputPartitions.keys()])
    const carried = { 'max.message.bytes': String(Math.max(DEFAULT_MAX_MESSAGE_BYTES, ...inputLimits.values()) + (64 << 10)) }
    const specs: TopicSpec[] = [{ name: this.sourceTimesTopic, partitions: 1, config: { 'cleanup.policy': 'compact' } }]
    for (const aggregation of plan.aggregations) {
      specs.push({ name: aggregation.topic, partitions: aggregation.partitions, config: { 'retention.ms': String(7 * 24 * 3600_000) } })
      for (const suffix of ['windows', 'sources']) {
        specs.push({ name: changelogTopic(applicationId, `${aggregation.aggregation.name}-${suffix}`), partitions: aggregation.partitions, config: { 'cleanup.policy': 'compact' } })
      }
      for (const output of [...aggregation.aggregation.outputs, ...aggregation.aggregation.watches.flatMap(w => w.outputs)]) {
        if (output.kind === 'topic') specs.push({ name: output.topic, partitions: inputs })
      }
    }
    if (topology.deadLetterTopic !== undefined) specs.push({ name: topology.deadLetterTopic, partitions: inputs, config: carried })
    if (topology.lateTopic !== undefined) specs.push({ name: topology.lateTopic, partitions: inputs, config: carried })
    return specs
  }

  /**
   * Registers the transactional id before joining the group. This fences a predecessor with
   * the same id (this state folder's instance, killed) and aborts its open transaction now:
   * offsets it left pending would otherwise hold up reading the committed offsets until the
   * broker's transaction timeout.
   */
  async #fencePredecessor (): Promise<void> {
    // The client retries retriable errors here without end: bound the wait.
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new UnavailableError(`cannot register the transactional id within ${REGISTER_TIMEOUT_MS / 1000} s`)), REGISTER_TIMEOUT_MS)
    })
    try {
      await (await Promise.race([this.#producer!.beginTransaction(), timeout])).cancel()
    } finally {
      clearTimeout(timer)
    }
  }

  async #resetProducer (): Promise<void> {
    // A fenced or failed transactional producer cannot begin again: replace it.
    await this.#producer?.close(true).catch(() => {})
    const { brokers, applicationId } = this.#options
    this.#producer = createTransactionalProducer(brokers, `${applicationId}-${this.#instanceId}`, `${applicationId}-${this.#instanceId}`)
  }

  async #shutdown (): Promise<void> {
    // After an error the loop may end with a commit still running: stores close after it.
    await this.#committing
    await this.#closeTasks().catch(error => this.#options.log('warn', `closing stores: ${errorMessage(error)}`))
    // close() leaves the group, so the partitions move at once instead of after the session timeout.
    await this.#consumer?.close().catch(() => this.#consumer?.close(true).catch(() => {}))
    await this.#producer?.close(true).catch(() => {})
    await this.#tables?.stop().catch(() => {})
    await this.#tableConsumer?.close(true).catch(() => {})
    await this.#admin?.close().catch(() => {})
  }

  /** A stable id per state folder, so a restarted instance fences its own predecessor at once. */
  async #loadInstanceId (): Promise<string> {
    const dir = join(this.#options.stateDir, this.#options.applicationId)
    await mkdir(dir, { recursive: true })
    const file = join(dir, 'instance-id')
    try {
      return (await readFile(file, 'utf8')).trim()
    } catch {
      const id = randomUUID().slice(0, 8)
      await writeFile(file, `${id}\n`)
      return id
    }
  }
}


class RebalancedDuringCommit extends Error {
  constructor () {
    super('the group rebalanced during the commit')
  }
}

/** The positions after `fetched` is processed. */
function advance (positions: Position[], fetched: FetchedPartition[]): Position[] {
  const next = new Map(fetched.map(part => [key(part.topic, part.partition), part.next]))
  return positions.map(p => ({ topic: p.topic, partition: p.partition, offset: next.get(key(p.topic, p.partition)) ?? p.offset }))
}

/** Records, per `topic:partition`, the offset of the last record of `sent` there, from the produce response's base offsets. */
function noteLastOffsets (last: Map<string, bigint>, sent: OutgoingRecord[], result: ProduceResult): void {
  // A send puts each partition's records into one batch: the base offset plus their count.
  const counts = new Map<string, number>()
  for (const r of sent) {
    if (r.partition === undefined) continue
    const id = key(r.topic, r.partition)
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  for (const { topic, partition, offset } of result.offsets ?? []) {
    const count = counts.get(key(topic, partition))
    if (count !== undefined) last.set(key(topic, partition), offset + BigInt(count - 1))
  }
}

/** Bytes per send: a partition's batch in one send stays well under the broker's default limit of 1 MB. */
const SEND_CHUNK_BYTES = 512 << 10

/**
 * The end of the chunk of `records` that starts at `from`: at least one record, at most
 * SEND_CHUNK_BYTES, and no more bytes for one topic than its limit allows in one batch.
 */
function chunkEnd (records: OutgoingRecord[], from: number, limitOf: (topic: string) => number): number {
  let bytes = 0
  const perTopic = new Map<string, number>()
  let to = from
  while (to < records.length) {
    const r = records[to]!
    const size = recordSize(r)
    const topicBytes = (perTopic.get(r.topic) ?? 0) + size
    if (to > from && (bytes + size > SEND_CHUNK_BYTES || topicBytes + BATCH_OVERHEAD > limitOf(r.topic))) break
    bytes += size
    perTopic.set(r.topic, topicBytes)
    to++
  }
  return to
}

function toMessage (r: OutgoingRecord): object {
  return { topic: r.topic, partition: r.partition, key: r.key ?? undefined, value: r.value ?? undefined, headers: r.headers === undefined ? undefined : recordHeaders(r.headers) }
}
