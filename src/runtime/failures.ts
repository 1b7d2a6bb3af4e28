// How an instance lives through outages: failures (a commit the broker or a sink refused, a
// fetch that could not reach the broker) are retried from the last commit after a capped,
// jittered exponential back-off, for as long as they last, unless the operator set a limit.
// What the instance reports meanwhile: not ready (a balancer stops counting on it), but live,
// since waiting out an outage is work, not a hang (a restart would not help).
import { errorMessage, UnavailableError } from '../lib/errors.ts'

export interface FailurePolicy {
  /** First wait after a failure; doubles with each failure in a row. */
  initialDelayMs: number
  /** Longest wait between two attempts. */
  maxDelayMs: number
  /** Give up (the loop ends with an UnavailableError) after failing this long; undefined: never. */
  giveUpAfterMs: number | undefined
}

export const DEFAULT_FAILURE_POLICY: FailurePolicy = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  giveUpAfterMs: undefined
}

export class Failures {
  readonly #policy: FailurePolicy
  readonly #random: () => number
  #since: number | undefined
  #inARow = 0
  #last: string | undefined

  constructor(policy: FailurePolicy = DEFAULT_FAILURE_POLICY, random: () => number = Math.random) {
    this.#policy = policy
    this.#random = random
  }

  /** When the current run of failures began; undefined while things work. */
  get since(): number | undefined {
    return this.#since
  }

  /** What failed last, while failing. */
  get last(): string | undefined {
    return this.#last
  }

  /**
   * Records a failure and returns how long to wait before the next attempt: half the capped
   * exponential delay plus a random share of the other half, so that instances that failed
   * together do not retry together. Throws once the failures have lasted past the limit.
   */
  failed(what: string, error: unknown, now = Date.now()): number {
    this.#since ??= now
    this.#inARow++
    this.#last = `${what}: ${errorMessage(error)}`
    const { giveUpAfterMs, initialDelayMs, maxDelayMs } = this.#policy
    if (giveUpAfterMs !== undefined && now - this.#since >= giveUpAfterMs) {
      throw new UnavailableError(
        `stopped after ${Math.round((now - this.#since) / 1000)} s of failures (--give-up-after): ${this.#last}`,
        error
      )
    }
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.#inARow - 1, 30))
    return Math.round(delay / 2 + (this.#random() * delay) / 2)
  }

  /** A commit went through: the outage, if any, is over. */
  succeeded(): void {
    this.#since = undefined
    this.#inARow = 0
    this.#last = undefined
  }
}

/**
 * Errors that are bugs, not outages: retrying cannot help, so the loop ends at once. Anything
 * else (the broker, PostgreSQL, the disk) is retried.
 */
export function isBug(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    error instanceof RangeError ||
    error instanceof ReferenceError ||
    error instanceof SyntaxError
  )
}
