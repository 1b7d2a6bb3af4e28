// Waits on a state with a deadline of the test's own: ava's `timeout` is one inactivity timer
// for the whole run, so a wait that only relies on it can hang for minutes and then fail
// without saying what it waited for.
import { sleep } from '../../src/lib/processes.ts'

export interface WaitOptions {
  /** Milliseconds before giving up. */
  timeoutMs: number
  intervalMs?: number
  /** Says why waiting longer is pointless (a child that exited, say), or undefined. */
  failed?: () => string | undefined
}

/**
 * Polls `check` until it returns something other than undefined and returns that; throws an
 * error naming `what` when the deadline passes or `failed` gives a reason.
 */
export async function within<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs, intervalMs = 250, failed }: WaitOptions
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    const reason = failed?.()
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`)
    if (Date.now() >= deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`)
    await sleep(intervalMs)
  }
}

/** Why a child process cannot do more: it exited (with its code or signal), or undefined. */
export function exited(child: { exitCode: number | null; signalCode: NodeJS.Signals | null }): string | undefined {
  if (child.exitCode !== null) return `it exited with code ${child.exitCode}`
  if (child.signalCode !== null) return `it was killed by ${child.signalCode}`
  return undefined
}
