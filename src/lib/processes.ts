// Small helpers around child processes, shared by the local-broker manager and tests.
import { spawn } from 'node:child_process'
import { UnavailableError } from './errors.ts'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command to completion; a missing executable becomes an UnavailableError naming `what`. */
export function run(command: string, args: string[], what: string, options: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => {
      stdout += chunk
    })
    child.stderr.on('data', chunk => {
      stderr += chunk
    })
    child.on('error', error => {
      const code = (error as NodeJS.ErrnoException).code
      reject(
        code === 'ENOENT'
          ? new UnavailableError(`${what} is required but '${command}' was not found on PATH`, error)
          : error
      )
    })
    child.on('close', code => resolve({ code: code ?? 1, stdout, stderr }))
  })
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Polls `check` until it returns a value other than undefined, or the deadline passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  { timeoutMs, intervalMs = 250 }: { timeoutMs: number; intervalMs?: number }
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() >= deadline) return undefined
    await sleep(intervalMs)
  }
}
