// Child processes killed with SIGKILL at a chosen moment of their work, for the kill -9 tests of
// the compactor.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The `cellstream` command, to run with node. */
export const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

/** What a running child has shown so far: tests wait on it before they kill. */
export interface Progress {
  pid: number
  stdout: string
  stderr: string
}

export interface KillOutcome {
  /** It died of the SIGKILL (it did not end before). */
  killed: boolean
  /** `when` held before the child ended: the kill was armed. */
  armed: boolean
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `node ...args` and kills it with SIGKILL `ms` after `when` first holds (polled every
 * millisecond; at once if not given), unless it exited before; tells which, its exit code, and
 * what it printed.
 */
export function killAfter(
  args: readonly string[],
  ms: number,
  when: (progress: Progress) => boolean = () => true
): Promise<KillOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child.on('error', reject)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => {
      stdout += chunk
    })
    child.stderr.on('data', chunk => {
      stderr += chunk
    })
    let timer: NodeJS.Timeout | undefined
    let armed = false
    const poll = setInterval(() => {
      if (!when({ pid: child.pid!, stdout, stderr })) return
      clearInterval(poll)
      armed = true
      timer = setTimeout(() => child.kill('SIGKILL'), ms)
    }, 1)
    child.on('close', (code, signal) => {
      clearInterval(poll)
      clearTimeout(timer)
      resolve({ killed: signal === 'SIGKILL', armed, code, stdout, stderr })
    })
  })
}

/** Whether the process `pid` holds the compactor lock `lockFile` (its pid is in it). */
export function holdsLock(lockFile: string, pid: number): boolean {
  try {
    return readFileSync(lockFile, 'utf8') === String(pid)
  } catch {
    return false
  }
}
