// What an instance tells health checks and balancers, from what its loop does:
//   live   the loop turns, or waits out an outage on purpose (restarting would not help);
//          not live when it has not turned for `stuckAfterMs`, or has stopped
//   ready  processing and committing: not while starting, restoring state, failing (with
//          the reason), or stopped
import { Failures, type FailurePolicy } from './failures.ts'

/** What a running instance reports to health checks and balancers. */
export interface InstanceStatus {
  live: boolean
  ready: boolean
  /** Why it is not ready. */
  reason?: string
  commits: number
  /** Since when commits or turns have failed in a row (epoch ms). */
  failingSince?: number
  assignment: string[]
}

export type Phase = 'starting' | 'restoring' | 'running' | 'stopped'

export class InstanceHealth {
  readonly failures: Failures
  readonly #stuckAfterMs: number
  phase: Phase = 'starting'
  /** When the loop last turned. */
  #beat = Date.now()

  constructor(policy: FailurePolicy, stuckAfterMs: number) {
    this.failures = new Failures(policy)
    this.#stuckAfterMs = stuckAfterMs
  }

  /** The loop turned (or made progress inside a long step, such as a restore). */
  beat(now = Date.now()): void {
    this.#beat = now
  }

  status(commits: number, assignment: string[], now = Date.now()): InstanceStatus {
    const { phase, failures } = this
    const live = phase !== 'stopped' && now - this.#beat < this.#stuckAfterMs
    const failingSince = failures.since
    let reason: string | undefined
    if (phase !== 'running') reason = phase === 'restoring' ? 'restoring state' : phase
    else if (failingSince !== undefined)
      reason = `failing for ${Math.round((now - failingSince) / 1000)} s, retrying: ${failures.last}`
    if (!live && phase !== 'stopped')
      reason = `the processing loop has not turned for ${Math.round((now - this.#beat) / 1000)} s`
    return { live, ready: reason === undefined, reason, commits, failingSince, assignment }
  }
}
