// Running the processes a benchmark measures, and reading their memory and CPU time from /proc.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseResult, type StageResult } from './result.ts'

export const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

/** The 1-minute load average. */
export const load = (): number => Math.round(loadavg()[0]! * 100) / 100

/** Runs a TypeScript file of bench/ in its own Node process and returns its RESULT. */
export async function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeFlags: string[] = []
): Promise<StageResult> {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url))
  const child = spawn(process.execPath, [...nodeFlags, path, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => {
    stdout += chunk
  })
  child.stderr.on('data', chunk => {
    stderr += chunk
    if (process.env.BENCH_LOG !== undefined) process.stderr.write(chunk)
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`${script} exited with ${code}:\n${stderr.slice(-3000)}`)
  return parseResult(stdout)
}

export interface ProcessStats {
  peakRssMb: number
  cpuSeconds: number
}

/** Peak resident memory (VmHWM) and CPU time, all threads, of a running process. */
export async function processStats(pid: number): Promise<ProcessStats> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return {
    peakRssMb: Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100
  }
}

/** A long-running child (a stream instance, the Kafka Streams job) whose stderr is kept. */
export interface Running {
  child: ChildProcess
  log: () => string
}

export function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-20_000)
    if (process.env.BENCH_LOG !== undefined) process.stderr.write(chunk)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  return { child, log: () => log }
}

/** SIGTERM, then waits for the exit (SIGKILL after 30 s). */
export async function stop({ child }: Running): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  await exited
  clearTimeout(timer)
}
