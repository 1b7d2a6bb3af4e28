// The Kafka runtime: one instance of a stream application, a loop over parts with one job
// each (docs/engine.md has the map). Instances with the same application id form a consumer
// group over the input topics and the partials topics, so partitions (and their state) move
// between instances as they come and go.
//
//   fetch (read_committed) → the tasks process (TaskManager) → owners close the windows their
//   watermark passed, sinks get them at once → every commit interval, one transaction
//   (Committer) with everything the tasks produced and the positions of every assigned
//   partition; local stores write after it commits. A commit takes its records synchronously
//   and then runs beside the processing of the next fetches.
//
// A rebalance or a failed commit discards everything since the last commit: tasks are
// rebuilt from committed state (local stores as of the last commit, positions from the
// group's committed offsets), so work is redone, never lost or counted twice. Failures (the
// broker or a sink unreachable) are retried after a capped, jittered back-off for as long as
// they last (failures.ts); status() tells a balancer meanwhile that the instance is not ready.
import { randomUUID } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { committedOffsets, createAdmin, ensureTopics, messageLimits, type KafkaAdmin } from '../kafka/admin.ts'
import { READ_UNCOMMITTED, readToEnd, type FetchedPartition, type Fetcher, type Position } from '../kafka/fetcher.ts'
import { GroupMember, type GroupMembership } from '../kafka/group.ts'
import { TransactionalProducer, type Offset } from '../kafka/transactions.ts'
import { errorMessage } from '../lib/errors.ts'
import { topicPartition } from '../lib/records.ts'
import { int64Serde, stringSerde } from '../lib/serdes.ts'
import { sleep } from '../lib/processes.ts'
import { levelDbStores, type StoreSupplier } from '../stores/index.ts'
import type { Topology } from '../topology/topology.ts'
import { makePlan } from './plan.ts'
import { GlobalTables } from './global-tables.ts'
import { noMetrics, type EngineMetrics } from './metrics.ts'
import { changelogReader } from './kafka-changelog.ts'
import { DEFAULT_FAILURE_POLICY, Failures, isBug } from './failures.ts'
import { TopicLimits } from './topic-limits.ts'
import { applicationTopics, isInternalTopic, sourceTimesTopic } from './internal-topics.ts'
import { TaskManager } from './task-manager.ts'
import { Committer } from './committer.ts'

export interface StreamAppOptions {
  topology: Topology
  /** Names the consumer group and prefixes internal topics. */
  applicationId: string
  brokers: string[]
  /** This instance's own folder: local stores and its instance id. Never shared by two instances. */
  stateDir: string
  /** Where local stores come from; LevelDB by default. */
  stores?: StoreSupplier
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
  /** The processing loop turns, or waits out an outage on purpose: restarting would not help. */
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

/** Records processed between two turns of the event loop. */
const SLICE_RECORDS = 2048
/** How often owners look for windows to close between commits. */
const CLOSE_INTERVAL_MS = 100
/** How long registering the transactional id at start may take (the client retries without end). */
const REGISTER_TIMEOUT_MS = 60_000

type Options = Required<Omit<StreamAppOptions, 'partialsPartitions' | 'giveUpAfterMs'>> & Pick<StreamAppOptions, 'partialsPartitions' | 'giveUpAfterMs'>

export class StreamApp {
  readonly #options: Options
  #admin: KafkaAdmin | undefined
  #member: GroupMember | undefined
  #tableReader: GroupMember | undefined
  #producer: TransactionalProducer | undefined
  #fetcher: Fetcher | undefined
  #tables: GlobalTables | undefined
  #tasks: TaskManager | undefined
  #committer: Committer | undefined
  #limits: TopicLimits | undefined
  #instanceId = ''
  /** Next offset to fetch per assigned partition, and as of the last commit. */
  readonly #positions = new Map<string, Position>()
  readonly #committed = new Map<string, bigint>()
  /** The tasks must be rebuilt from committed state: the group moved, or a turn or commit failed. */
  #rebuild = true
  #stopping = false
  #loop: Promise<void> | undefined
  #lastCommit = 0
  #committing: Promise<void> | undefined
  #lastClose = 0
  /** Failures in a row (rebalances aside), and the back-off they call for. */
  readonly #failures: Failures
  /** No work before this time (epoch ms): the back-off after a failure. */
  #pausedUntil = 0
  /** Set when failures lasted past giveUpAfterMs, or a bug: the loop ends with it. */
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
  #membership: GroupMembership | undefined
  /** Commits done, for tests and metrics. */
  commits = 0

  constructor (options: StreamAppOptions) {
    this.#options = {
      commitIntervalMs: 1000,
      idleTimeoutMs: 30_000,
      metrics: noMetrics,
      log: () => {},
      stuckAfterMs: 180_000,
      stores: levelDbStores,
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
    return sourceTimesTopic(this.#options.applicationId)
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
    const admin = this.#admin = createAdmin(brokers, `${applicationId}-admin`)
    const inputPartitions = new Map<string, number>()
    for (const source of topology.sources) {
      const info = (await admin.metadata({ topics: [source.topic] })).topics.get(source.topic)
      if (info === undefined) throw new Error(`input topic ${source.topic} does not exist`)
      inputPartitions.set(source.topic, info.partitionsCount)
    }
    const plan = makePlan(topology, applicationId, inputPartitions, this.#options.partialsPartitions)
    const inputLimits = await messageLimits(admin, [...inputPartitions.keys()])
    await ensureTopics(admin, applicationTopics(plan, Math.max(0, ...inputLimits.values())))
    this.#limits = new TopicLimits(admin, topology.deadLetterTopic, topic => isInternalTopic(applicationId, topic))

    this.#tableReader = new GroupMember(brokers, `${applicationId}-tables-${this.#instanceId}`, `${applicationId}-tables`)
    this.#tables = new GlobalTables(this.#tableReader.fetcher({ isolationLevel: READ_UNCOMMITTED, maxWaitMs: 250 }), topology.globalTables, message => this.#options.log('warn', message))
    await this.#tables.start()

    this.#producer = new TransactionalProducer(brokers, `${applicationId}-${this.#instanceId}`)
    await this.#producer.register(REGISTER_TIMEOUT_MS)
    this.#committer = new Committer(this.#producer, this.#limits)
    this.#member = new GroupMember(brokers, `${applicationId}-${this.#instanceId}`, applicationId)
    // A response's records stay alive until processed, and the prefetch keeps a second one:
    // small responses keep that short-lived, so the garbage collector reclaims it young.
    const fetcher = this.#fetcher = this.#member.fetcher({ maxBytes: 1 << 20, partitionMaxBytes: 256 << 10, maxWaitMs: 100 })
    const { stores, stateDir, metrics, idleTimeoutMs, log } = this.#options
    this.#tasks = new TaskManager({
      plan,
      stores,
      stateDir,
      changelog: (topic, partition) => changelogReader(fetcher, topic, partition),
      tables: name => this.#tables!.view(name),
      metrics,
      idleTimeoutMs,
      log,
      onProgress: () => { this.#beat = Date.now() }
    })
    await this.#member.join([...topology.sources.map(s => s.topic), ...plan.aggregations.map(a => a.topic)], () => { this.#rebuild = true })
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
    // overlaps the work; a rebuild discards it with everything else since the last commit.
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
          if (this.#rebuild) {
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
            if (!this.#rebuild) {
              prefetch = this.#fetcher!.fetch(advance(positions, fetched))
              prefetch.catch(() => {}) // awaited (or dropped) on the next turn
              await this.#process(fetched)
            }
            if (!this.#rebuild && Date.now() - this.#lastClose >= CLOSE_INTERVAL_MS) {
              this.#lastClose = Date.now()
              this.#tasks!.closeWindows(this.#lastClose)
              this.#tasks!.deliver().catch(() => {}) // a failure fails the next commit
            }
          }
          if (!this.#rebuild && this.#committing === undefined && Date.now() - this.#lastCommit >= this.#options.commitIntervalMs) {
            // The commit runs while the loop goes on processing: it took its records synchronously.
            this.#committing = this.#commitOrReset().finally(() => { this.#committing = undefined })
          }
        } catch (error) {
          // Redo from the last commit, as after a rebalance, once the back-off has passed.
          // A bug ends the loop at once: no wait makes it go away.
          if (isBug(error)) throw error
          this.#phase = 'running'
          this.#failed('processing', error)
          prefetch = undefined
          this.#rebuild = true
        }
      }
      await prefetch?.catch(() => {})
      await this.#committing
      if (!this.#rebuild) await this.#commitOrReset()
    } finally {
      this.#phase = 'stopped'
      await this.#shutdown()
    }
  }

  /** Records a failure: the loop pauses for the back-off, or ends when failures lasted past the limit. */
  #failed (what: string, error: unknown): void {
    try {
      const wait = this.#failures.failed(what, error)
      this.#pausedUntil = Date.now() + wait
      this.#options.log('warn', `${what} failed, redoing from the last commit in ${(wait / 1000).toFixed(1)} s: ${errorMessage(error)}`)
    } catch (fatal) {
      this.#fatal = fatal as Error
    }
  }

  /**
   * Feeds a fetch to the tasks. It yields to the event loop every SLICE_RECORDS records, so
   * the round trips of a commit running in the background are not held up by a whole fetch
   * each. No commit takes its records in the middle: commits start between two fetches.
   */
  async #process (fetched: FetchedPartition[]): Promise<void> {
    let now = Date.now()
    let budget = SLICE_RECORDS
    for (const part of fetched) {
      const id = topicPartition(part.topic, part.partition)
      const position = this.#positions.get(id)
      if (position === undefined) continue
      const source = this.#tasks!.sources.get(id)
      const owner = source === undefined ? this.#tasks!.owners.get(id)?.task : undefined
      const records = part.records
      for (let i = 0; i < records.length;) {
        const end = Math.min(records.length, i + budget)
        budget -= end - i
        if (source !== undefined) for (; i < end; i++) source.process(records[i]!)
        else if (owner !== undefined) for (; i < end; i++) owner.apply(records[i]!)
        else i = end
        if (budget === 0) {
          await new Promise(resolve => setImmediate(resolve))
          this.#beat = Date.now()
          // What was fetched for partitions that moved away must not be processed.
          if (this.#rebuild) return
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
        this.#failed('commit', error)
      }
      await this.#producer!.reset()
      this.#rebuild = true
    }
  }

  async #commit (): Promise<void> {
    const now = Date.now()
    this.#lastCommit = now
    const tasks = this.#tasks!
    const commit = tasks.takeCommit(now)
    // Processing goes on during the commit: take the positions of now.
    const moved = [...this.#positions].filter(([id, p]) => this.#committed.get(id) !== p.offset).map(([id, p]) => ({ id, ...p }))
    if (commit.records.length === 0 && moved.length === 0 && (await commit.sinks).length === 0) return
    // Offsets carry the group generation, which the broker checks: a transaction that writes
    // carries at least one (an unmoved one if need be, as committed), so an instance that lost
    // its partitions cannot commit.
    const offsets: Array<Offset & { id: string }> = moved.length > 0 ? moved : [...this.#positions].filter(([id]) => this.#committed.has(id)).slice(0, 1).map(([id, p]) => ({ id, ...p, offset: this.#committed.get(id)! }))
    const lastOffsets = await this.#committer!.commit({
      records: commit.records,
      sinks: commit.sinks,
      offsets,
      member: this.#member!,
      membership: this.#membership!,
      assertMembership: () => this.#assertMembership()
    })
    this.commits++
    for (const p of moved) this.#committed.set(p.id, p.offset)
    await tasks.committed(commit, lastOffsets)
  }

  /** Throws if the tasks' group generation is no longer the client's (a rebalance, maybe not yet announced). */
  #assertMembership (): void {
    if (this.#rebuild || this.#member!.generationId !== this.#membership?.generationId) throw new RebalancedDuringCommit()
  }

  /** Rebuilds every task from committed state for the current assignment. */
  async #reassign (): Promise<void> {
    await this.#committing
    this.#rebuild = false
    this.#phase = 'restoring'
    await this.#closeTasks()
    this.#limits!.clear()
    const member = this.#member!
    const assigned = member.assigned()
    this.#membership = member.membership()
    this.#options.log('info', `assigned ${assigned.length} partitions (generation ${this.#membership.generationId})`)
    const committed = await this.#committedOffsets(assigned)
    await this.#tasks!.build(assigned, await this.#loadStreamTimes(), () => this.#rebuild)
    if (this.#rebuild) return
    for (const { topic, partition } of assigned) {
      const id = topicPartition(topic, partition)
      this.#positions.set(id, { topic, partition, offset: committed.get(id)! })
      this.#committed.set(id, committed.get(id)!)
    }
    this.#lastCommit = Date.now()
    this.#phase = 'running'
  }

  /** Closes tasks; stores keep their files as of the last commit and record it in a checkpoint. */
  async #closeTasks (): Promise<void> {
    await this.#tasks?.close()
    this.#positions.clear()
    this.#committed.clear()
  }

  /** Committed offsets, waiting for any pending transaction that commits some; the start of partitions never committed. */
  async #committedOffsets (partitions: Array<{ topic: string, partition: number }>): Promise<Map<string, bigint>> {
    const result = await committedOffsets(this.#admin!, this.#options.applicationId, partitions)
    for (const topic of new Set(partitions.filter(p => !result.has(topicPartition(p.topic, p.partition))).map(p => p.topic))) {
      const starts = await this.#fetcher!.startOffsets(topic)
      for (const { partition } of partitions.filter(p => p.topic === topic)) {
        const id = topicPartition(topic, partition)
        if (!result.has(id)) result.set(id, starts[partition] ?? 0n)
      }
    }
    return result
  }

  async #loadStreamTimes (): Promise<Map<string, number>> {
    const times = new Map<string, number>()
    for await (const batch of readToEnd(this.#fetcher!, this.sourceTimesTopic, new Map([[0, 0n]]))) {
      for (const record of batch) {
        if (record.key !== null && record.value !== null) times.set(stringSerde.deserialize(record.key), int64Serde.deserialize(record.value))
      }
    }
    return times
  }

  async #shutdown (): Promise<void> {
    // After an error the loop may end with a commit still running: stores close after it.
    await this.#committing
    await this.#closeTasks().catch(error => this.#options.log('warn', `closing stores: ${errorMessage(error)}`))
    // Leaving the group moves the partitions at once instead of after the session timeout.
    await this.#member?.close()
    await this.#producer?.close()
    await this.#tables?.stop().catch(() => {})
    await this.#tableReader?.close()
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
  const next = new Map(fetched.map(part => [topicPartition(part.topic, part.partition), part.next]))
  return positions.map(p => ({ topic: p.topic, partition: p.partition, offset: next.get(topicPartition(p.topic, p.partition)) ?? p.offset }))
}
