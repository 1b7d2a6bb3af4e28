// Child processes killed with SIGKILL at a chosen moment, for the kill -9 tests of the compactor.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The `cellstream` command, to run with node. */
export const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

/**
 * Runs `node ...args` and kills it with SIGKILL `ms` after it started, unless it exited before;
 * tells which, its exit code, and what it printed. With `lockFile`, the `ms` count from the moment the
 * child holds that compactor lock (its pid in it): startup is most of a small compaction, and
 * the lock is taken when the work begins.
 */
export function killAfter(
  args: readonly string[],
  ms: number,
  lockFile?: string
): Promise<{ killed: boolean; code: number | null; stdout: string; stderr: string }> {
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
    const arm = (): void => {
      timer = setTimeout(() => child.kill('SIGKILL'), ms)
    }
    const locked = (): boolean => {
      try {
        return readFileSync(lockFile!, 'utf8') === String(child.pid)
      } catch {
        return false
      }
    }
    const poll =
      lockFile === undefined
        ? undefined
        : setInterval(() => {
            if (!locked()) return
            clearInterval(poll)
            arm()
          }, 1)
    if (lockFile === undefined) arm()
    child.on('close', (code, signal) => {
      clearInterval(poll)
      clearTimeout(timer)
      resolve({ killed: signal === 'SIGKILL', code, stdout, stderr })
    })
  })
}
