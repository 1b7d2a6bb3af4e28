// Waits with deadlines of their own. ava's `timeout` is one inactivity timer for the whole run,
// so a test that waits on a state must fail by itself, with a message naming what it waited
// for, when the state never comes or a child process it depends on exits first.
import type { ChildProcess } from 'node:child_process'
import { sleep } from '../../src/lib/processes.ts'

export interface WaitOptions {
  deadlineMs: number
  intervalMs?: number
  /** Children that must stay alive meanwhile: the wait fails as soon as one exits. */
  children?: ChildProcess[]
  /** Says why waiting longer is pointless (a child that exited, with its output), or undefined. */
  failed?: () => string | undefined
  /** What the test saw last (a child's log, the last answer), added to the message when the wait fails. */
  detail?: () => string
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** How a child process ended (its exit code or signal), or undefined while it runs. */
export function exitReason(child: ChildProcess): string | undefined {
  return exited(child) ? `it exited with ${exitText(child)}` : undefined
}

function exitText(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${child.exitCode}`
}

/**
 * Polls `check` until it returns a value other than undefined or false, and returns that value.
 * Throws `timed out after N s waiting for <what>` when the deadline passes,
 * `process N exited (…) while waiting for <what>` when one of `children` exits first, and
 * `gave up waiting for <what>: <reason>` when `failed` gives a reason; each followed by what
 * `detail` returns, when given.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { deadlineMs, intervalMs = 200, children = [], failed, detail }: WaitOptions
): Promise<T> {
  const fail = (message: string): Error => new Error(detail === undefined ? message : `${message}\n${detail()}`)
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    const gone = children.find(exited)
    if (gone !== undefined) throw fail(`process ${gone.pid} exited (${exitText(gone)}) while waiting for ${what}`)
    const reason = failed?.()
    if (reason !== undefined) throw fail(`gave up waiting for ${what}: ${reason}`)
    if (Date.now() >= deadline) throw fail(`timed out after ${deadlineMs / 1000} s waiting for ${what}`)
    await sleep(intervalMs)
  }
}

/** Everything a child writes to one of its piped streams, kept as it arrives. */
export function collect(stream: NodeJS.ReadableStream): () => string {
  let text = ''
  stream.on('data', chunk => {
    text += String(chunk)
  })
  return () => text
}

/**
 * Waits, with a deadline, until a child has exited and its piped output is all read; returns
 * its exit code (null when a signal ended it).
 */
export async function waitForExit(what: string, child: ChildProcess, deadlineMs: number): Promise<number | null> {
  await waitFor(
    what,
    () => exited(child) && child.stdio.every(stream => stream === null || stream === undefined || stream.closed),
    {
      deadlineMs,
      intervalMs: 50
    }
  )
  return child.exitCode
}
