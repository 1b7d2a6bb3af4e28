// What an instance tells health checks and balancers, from what its loop does:
//   live   the loop turns, or waits out an outage on purpose (restarting would not help);
//          not live when it has not turned for `stuckAfterMs`, or has stopped
//   ready  processing and committing: not while starting, restoring state, failing (with
//          the reason), or stopped
import { errorMessage } from '../lib/errors.ts'
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
  /** No work before this time (epoch ms): the back-off after a failure. */
  pausedUntil = 0
  /** Set when failures lasted past the limit, or on a bug: the loop ends with it. */
  fatal: Error | undefined
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

  /** Records a failure: the loop pauses for the back-off, or ends when failures lasted past the limit. */
  failed(what: string, error: unknown, log: (level: 'warn', message: string) => void): void {
    try {
      const wait = this.failures.failed(what, error)
      this.pausedUntil = Date.now() + wait
      log(
        'warn',
        `${what} failed, redoing from the last commit in ${(wait / 1000).toFixed(1)} s: ${errorMessage(error)}`
      )
    } catch (fatal) {
      this.fatal = fatal as Error
    }
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
