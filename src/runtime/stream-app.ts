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
import { positionsAfter, type FetchedPartition } from '../kafka/fetcher.ts'
import type { GroupMembership } from '../kafka/group.ts'
import { errorMessage } from '../lib/errors.ts'
import { sleep } from '../lib/processes.ts'
import { changelogReader } from './kafka-changelog.ts'
import { DEFAULT_FAILURE_POLICY, isBug } from './failures.ts'
import { InstanceHealth, type InstanceStatus } from './health.ts'
import { committedPositions, committedStreamTimes, instanceId } from './committed-state.ts'
import { sourceTimesTopic } from './internal-topics.ts'
import { Announcer, InstanceQueries } from './queries.ts'
import { Connections } from './connections.ts'
import { Positions } from './positions.ts'
import { withDefaults, type Options, type StreamAppOptions } from './stream-app-options.ts'
import { TaskManager } from './task-manager.ts'

export type { StreamAppOptions } from './stream-app-options.ts'
export type { InstanceStatus } from './health.ts'

/** How often owners look for windows to close between commits. */
const CLOSE_INTERVAL_MS = 100

export class StreamApp {
  readonly #options: Options
  #io: Connections | undefined
  #tasks: TaskManager | undefined
  /** Next offset to fetch per assigned partition, and as of the last commit. */
  readonly #positions = new Positions()
  /** The tasks must be rebuilt from committed state: the group moved, or a turn or commit failed. */
  #rebuild = true
  #stopping = false
  #loop: Promise<void> | undefined
  #lastCommit = 0
  #committing: Promise<void> | undefined
  #lastClose = 0
  /** Liveness and readiness; failures in a row (rebalances aside) and the back-off they call for. */
  readonly #health: InstanceHealth
  /**
   * The group membership the tasks were built for. Every offset commit names it, so once the
   * group has moved to another generation the broker refuses the commit, even if this
   * instance has not heard of the rebalance yet.
   */
  #membership: GroupMembership | undefined
  /** This instance's id (per state folder), and the base URL it answers queries on. */
  #instanceId = ''
  #queries: InstanceQueries | undefined
  /** What the next commit tells the group of this instance (for interactive queries). */
  #announcer: Announcer | undefined
  #url: string | undefined
  /** Commits done, for tests and metrics. */
  commits = 0

  constructor(options: StreamAppOptions) {
    this.#options = withDefaults(options)
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
    return this.#positions.assignment
  }

  /** Joins the group and starts processing; resolves once global tables are loaded and the loop runs. */
  async start(): Promise<void> {
    const { topology, applicationId, brokers, partialsPartitions, stores, stateDir, metrics, idleTimeoutMs, log } =
      this.#options
    this.#instanceId = await instanceId(stateDir, applicationId)
    this.#announcer = new Announcer(applicationId, this.#instanceId)
    if (this.#url !== undefined) this.#announcer.advertise(this.#url)
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
        if (this.#health.fatal !== undefined) throw this.#health.fatal
        if (now < this.#health.pausedUntil) {
          // Waiting out an outage: short naps, so a stop is not held up.
          await sleep(Math.min(250, this.#health.pausedUntil - now))
          continue
        }
        try {
          if (this.#rebuild) {
            prefetch = undefined
            await this.#reassign()
          }
          const positions = [...this.#positions.next.values()]
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
                this.#positions.next,
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
          this.#health.failed('processing', error, this.#options.log)
          prefetch = undefined
          this.#rebuild = true
        }
      }
      await prefetch?.catch(() => {})
      await this.#committing
      this.#announcer!.leaving()
      if (!this.#rebuild) await this.#commitOrReset()
    } finally {
      this.#health.phase = 'stopped'
      await this.#shutdown()
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
        this.#health.fatal = error as Error
      } else {
        this.#options.metrics.commitFailed()
        this.#health.failed('commit', error, this.#options.log)
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
    const announcing = this.#announcer!.take(this.assignment, this.#membership!.generationId)
    if (announcing !== undefined) commit.records.push(announcing.record)
    // Processing goes on during the commit: take the positions of now.
    const moved = this.#positions.moved()
    if (commit.records.length === 0 && moved.length === 0 && (await commit.sinks).length === 0) return
    const offsets = this.#positions.toCommit(moved)
    const lastOffsets = await this.#io!.committer!.commit({
      records: commit.records,
      sinks: commit.sinks,
      offsets,
      member: this.#io!.member!,
      membership: this.#membership!,
      assertMembership: () => this.#assertMembership()
    })
    this.commits++
    if (announcing !== undefined) this.#announcer!.done(announcing.token)
    this.#positions.committed(moved)
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
    await member.rejoinIfLost()
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
    this.#positions.assign(assigned, committed)
    this.#lastCommit = Date.now()
    this.#announcer!.assigned()
    this.#health.phase = 'running'
  }

  /** The base URL this instance answers queries on (its HTTP server), announced to the group with its partitions. */
  advertise(url: string): void {
    this.#url = url
    this.#announcer?.advertise(url)
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
