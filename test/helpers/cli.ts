// Runs the real `cellstream` command as a child process, the way a user does.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export function cellstream(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  { cwd, timeoutMs = 120_000 }: { cwd?: string; timeoutMs?: number } = {}
): Promise<CliResult> {
  return new Promise(resolve => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, cwd, timeout: timeoutMs, maxBuffer: 256 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({ code, stdout, stderr })
      }
    )
  })
}
