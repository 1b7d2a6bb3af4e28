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
import { positionsAfter, type FetchedPartition, type Position } from '../kafka/fetcher.ts'
import type { GroupMembership } from '../kafka/group.ts'
import type { Offset } from '../kafka/transactions.ts'
import { errorMessage } from '../lib/errors.ts'
import { topicPartition } from '../lib/records.ts'
import { sleep } from '../lib/processes.ts'
import { levelDbStores, type StoreSupplier } from '../stores/index.ts'
import type { Topology } from '../topology/topology.ts'
import { noMetrics, type EngineMetrics } from './metrics.ts'
import { changelogReader } from './kafka-changelog.ts'
import { DEFAULT_FAILURE_POLICY, isBug } from './failures.ts'
import { InstanceHealth, type InstanceStatus } from './health.ts'
import { committedPositions, committedStreamTimes, instanceId } from './committed-state.ts'
import { sourceTimesTopic } from './internal-topics.ts'
import { announcement, InstanceQueries } from './queries.ts'
import { Connections } from './connections.ts'
import { TaskManager } from './task-manager.ts'

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

export type { InstanceStatus } from './health.ts'

/** How often owners look for windows to close between commits. */
const CLOSE_INTERVAL_MS = 100

type Options = Required<Omit<StreamAppOptions, 'partialsPartitions' | 'giveUpAfterMs'>> &
  Pick<StreamAppOptions, 'partialsPartitions' | 'giveUpAfterMs'>

export class StreamApp {
  readonly #options: Options
  #io: Connections | undefined
  #tasks: TaskManager | undefined
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
  /** Liveness and readiness; failures in a row (rebalances aside) and the back-off they call for. */
  readonly #health: InstanceHealth
  /** No work before this time (epoch ms): the back-off after a failure. */
  #pausedUntil = 0
  /** Set when failures lasted past giveUpAfterMs, or a bug: the loop ends with it. */
  #fatal: Error | undefined
  /**
   * The group membership the tasks were built for. Every offset commit names it, so once the
   * group has moved to another generation the broker refuses the commit, even if this
   * instance has not heard of the rebalance yet.
   */
  #membership: GroupMembership | undefined
  /** This instance's id (per state folder), and the base URL it answers queries on. */
  #instanceId = ''
  #url: string | undefined
  #queries: InstanceQueries | undefined
  /** The next commit announces this instance's partitions (after a rebuild), or its leaving. */
  #announce: 'assignment' | 'leaving' | undefined
  /** Commits done, for tests and metrics. */
  commits = 0

  constructor(options: StreamAppOptions) {
    this.#options = {
      commitIntervalMs: 1000,
      idleTimeoutMs: 30_000,
      metrics: noMetrics,
      log: () => {},
      stuckAfterMs: 180_000,
      stores: levelDbStores,
      ...options
    }
    this.#health = new InstanceHealth(
      { ...DEFAULT_FAILURE_POLICY, giveUpAfterMs: options.giveUpAfterMs },
      this.#options.stuckAfterMs
    )
  }

  /** Liveness and readiness, for /health and /ready. */
  status(now = Date.now()): InstanceStatus {
    return this.#health.status(this.commits, this.assignment, now)
  }

  get sourceTimesTopic(): string {
    return sourceTimesTopic(this.#options.applicationId)
  }

  /** True while a commit runs (it runs beside the processing). */
  get committing(): boolean {
    return this.#committing !== undefined
  }

  /** Partitions this instance works on now. */
  get assignment(): string[] {
    return [...this.#positions.keys()].sort()
  }

  /** Joins the group and starts processing; resolves once global tables are loaded and the loop runs. */
  async start(): Promise<void> {
    const { topology, applicationId, brokers, partialsPartitions, stores, stateDir, metrics, idleTimeoutMs, log } =
      this.#options
    this.#instanceId = await instanceId(stateDir, applicationId)
    const io = (this.#io = await Connections.open({
      topology,
      applicationId,
      brokers,
      instanceId: this.#instanceId,
      partialsPartitions,
      log
    }))
    const fetcher = io.fetcher!
    this.#tasks = new TaskManager({
      plan: io.plan!,
      stores,
      stateDir,
      changelog: (topic, partition) => changelogReader(fetcher, topic, partition),
      tables: name => io.tables!.view(name),
      metrics,
      idleTimeoutMs,
      log,
      onProgress: () => {
        this.#health.beat()
      }
    })
    try {
      await io.member!.join([...topology.sources.map(s => s.topic), ...io.plan!.aggregations.map(a => a.topic)], () => {
        this.#rebuild = true
      })
    } catch (error) {
      await io.close()
      throw error
    }
    this.#loop = this.#run()
  }

  /** Commits what is processed, leaves the group and closes stores (writing checkpoints). */
  async stop(): Promise<void> {
    this.#stopping = true
    await this.#loop
  }

  /** Resolves when the loop ends (after stop(), or with its error). */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve()
  }

  async #run(): Promise<void> {
    // The next fetch is sent before the current one is processed, so the broker round trip
    // overlaps the work; a rebuild discards it with everything else since the last commit.
    let prefetch: Promise<FetchedPartition[]> | undefined
    try {
      while (!this.#stopping) {
        const now = Date.now()
        this.#health.beat(now)
        if (this.#fatal !== undefined) throw this.#fatal
        if (now < this.#pausedUntil) {
          // Waiting out an outage: short naps, so a stop is not held up.
          await sleep(Math.min(250, this.#pausedUntil - now))
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
            const fetched = await (prefetch ?? this.#io!.fetcher!.fetch(positions))
            prefetch = undefined
            // Records fetched across a rebalance may belong to partitions that moved away.
            if (!this.#rebuild) {
              prefetch = this.#io!.fetcher!.fetch(positionsAfter(positions, fetched))
              prefetch.catch(() => {}) // awaited (or dropped) on the next turn
              await this.#tasks!.process(
                fetched,
                this.#positions,
                () => this.#rebuild,
                () => {
                  this.#health.beat()
                }
              )
            }
            if (!this.#rebuild && Date.now() - this.#lastClose >= CLOSE_INTERVAL_MS) {
              this.#lastClose = Date.now()
              this.#tasks!.closeWindows(this.#lastClose)
              this.#tasks!.deliver().catch(() => {}) // a failure fails the next commit
            }
          }
          if (
            !this.#rebuild &&
            this.#committing === undefined &&
            Date.now() - this.#lastCommit >= this.#options.commitIntervalMs
          ) {
            // The commit runs while the loop goes on processing: it took its records synchronously.
            this.#committing = this.#commitOrReset().finally(() => {
              this.#committing = undefined
            })
          }
        } catch (error) {
          // Redo from the last commit, as after a rebalance, once the back-off has passed.
          // A bug ends the loop at once: no wait makes it go away.
          if (isBug(error)) throw error
          this.#health.phase = 'running'
          this.#failed('processing', error)
          prefetch = undefined
          this.#rebuild = true
        }
      }
      await prefetch?.catch(() => {})
      await this.#committing
      this.#announce = 'leaving'
      if (!this.#rebuild) await this.#commitOrReset()
    } finally {
      this.#health.phase = 'stopped'
      await this.#shutdown()
    }
  }

  /** Records a failure: the loop pauses for the back-off, or ends when failures lasted past the limit. */
  #failed(what: string, error: unknown): void {
    try {
      const wait = this.#health.failures.failed(what, error)
      this.#pausedUntil = Date.now() + wait
      this.#options.log(
        'warn',
        `${what} failed, redoing from the last commit in ${(wait / 1000).toFixed(1)} s: ${errorMessage(error)}`
      )
    } catch (fatal) {
      this.#fatal = fatal as Error
    }
  }

  async #commitOrReset(): Promise<void> {
    try {
      await this.#commit()
      this.#health.failures.succeeded()
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
      await this.#io!.producer!.reset()
      this.#rebuild = true
    }
  }

  async #commit(): Promise<void> {
    const now = Date.now()
    this.#lastCommit = now
    const tasks = this.#tasks!
    const commit = tasks.takeCommit(now)
    const announcing = this.#announce
    if (announcing !== undefined) commit.records.push(this.#announcement(announcing))
    // Processing goes on during the commit: take the positions of now.
    const moved = [...this.#positions]
      .filter(([id, p]) => this.#committed.get(id) !== p.offset)
      .map(([id, p]) => ({ id, ...p }))
    if (commit.records.length === 0 && moved.length === 0 && (await commit.sinks).length === 0) return
    // Offsets carry the group generation, which the broker checks: a transaction that writes
    // carries at least one (an unmoved one if need be, as committed), so an instance that lost
    // its partitions cannot commit.
    const offsets: Array<Offset & { id: string }> =
      moved.length > 0
        ? moved
        : [...this.#positions]
            .filter(([id]) => this.#committed.has(id))
            .slice(0, 1)
            .map(([id, p]) => ({ id, ...p, offset: this.#committed.get(id)! }))
    const lastOffsets = await this.#io!.committer!.commit({
      records: commit.records,
      sinks: commit.sinks,
      offsets,
      member: this.#io!.member!,
      membership: this.#membership!,
      assertMembership: () => this.#assertMembership()
    })
    this.commits++
    if (this.#announce === announcing) this.#announce = undefined
    for (const p of moved) this.#committed.set(p.id, p.offset)
    await tasks.committed(commit, lastOffsets)
  }

  /** Throws if the tasks' group generation is no longer the client's (a rebalance, maybe not yet announced). */
  #assertMembership(): void {
    if (this.#rebuild || this.#io!.member!.generationId !== this.#membership?.generationId)
      throw new RebalancedDuringCommit()
  }

  /** Rebuilds every task from committed state for the current assignment. */
  async #reassign(): Promise<void> {
    await this.#committing
    this.#rebuild = false
    this.#health.phase = 'restoring'
    await this.#closeTasks()
    this.#io!.limits!.clear()
    const member = this.#io!.member!
    const assigned = member.assigned()
    this.#membership = member.membership()
    this.#options.log('info', `assigned ${assigned.length} partitions (generation ${this.#membership.generationId})`)
    const committed = await committedPositions(
      this.#io!.admin!,
      this.#io!.fetcher!,
      this.#options.applicationId,
      assigned
    )
    await this.#tasks!.build(
      assigned,
      await committedStreamTimes(this.#io!.fetcher!, this.sourceTimesTopic),
      () => this.#rebuild
    )
    if (this.#rebuild) return
    for (const { topic, partition } of assigned) {
      const id = topicPartition(topic, partition)
      this.#positions.set(id, { topic, partition, offset: committed.get(id)! })
      this.#committed.set(id, committed.get(id)!)
    }
    this.#lastCommit = Date.now()
    this.#announce = 'assignment'
    this.#health.phase = 'running'
  }

  #announcement(what: 'assignment' | 'leaving'): ReturnType<typeof announcement> {
    const info =
      what === 'leaving'
        ? undefined
        : {
            instance: this.#instanceId,
            url: this.#url,
            partitions: this.assignment,
            generation: this.#membership!.generationId
          }
    return announcement(this.#options.applicationId, this.#instanceId, info)
  }

  /** The base URL this instance answers queries on (its HTTP server), announced to the group with its partitions. */
  advertise(url: string): void {
    this.#url = url
    this.#announce = 'assignment'
  }

  /** Interactive queries of this instance's state; undefined until it has started. */
  get queries(): InstanceQueries | undefined {
    const io = this.#io
    if (io?.plan === undefined || io.queryFetcher === undefined || this.#tasks === undefined) return undefined
    this.#queries ??= new InstanceQueries({
      plan: io.plan,
      owners: this.#tasks.owners,
      fetcher: io.queryFetcher,
      instance: this.#instanceId
    })
    return this.#queries
  }

  /** Closes tasks; stores keep their files as of the last commit and record it in a checkpoint. */
  async #closeTasks(): Promise<void> {
    await this.#tasks?.close()
    this.#positions.clear()
    this.#committed.clear()
  }

  async #shutdown(): Promise<void> {
    // After an error the loop may end with a commit still running: stores close after it.
    await this.#committing
    await this.#closeTasks().catch(error => this.#options.log('warn', `closing stores: ${errorMessage(error)}`))
    await this.#io?.close()
  }
}

class RebalancedDuringCommit extends Error {
  constructor() {
    super('the group rebalanced during the commit')
  }
}
