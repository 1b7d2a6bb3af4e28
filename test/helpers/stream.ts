// Runs `cellstream stream` (or another command) as a child process, the way an operator does,
// and reads the tables it writes.
import type { ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Db } from '../../src/db/pool.ts'
import { sleep } from '../../src/lib/processes.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

export interface CommandProcess {
  child: ChildProcess
  /** Everything it wrote to stderr so far. */
  log: () => string
}

export interface StreamProcess extends CommandProcess {
  /** The port of its HTTP server, once it printed it; throws if it exits or takes a minute. */
  port: () => Promise<string>
}

/** Starts `cellstream …` in the background, its stderr kept; killed when the test ends. */
export function startCommand(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv): CommandProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let log = ''
  child.stderr!.on('data', chunk => {
    log += chunk
  })
  t.teardown(() => child.kill('SIGKILL'))
  return { child, log: () => log }
}

/** Starts `cellstream stream …`; killed when the test ends. */
export function startStream(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv): StreamProcess {
  const { child, log } = startCommand(t, ['stream', ...args], env)
  return {
    child,
    log,
    port: async () => {
      const deadline = Date.now() + 60_000
      for (;;) {
        const port = /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log())?.[1]
        if (port !== undefined) return port
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the stream did not start: ${log()}`)
        await sleep(200)
      }
    }
  }
}

export interface PipelineArgs {
  input: string
  metadata: string
  /** Defaults to `<group>-alerts`. */
  alerts?: string
  group: string
  /** The test's folder: the state goes to `<dir>/state`, the archive to `<dir>/archive`. */
  dir: string
  /** Another state folder than `<dir>/state` (one per instance). */
  stateDir?: string
  /** false: no --archive-dir (the archive goes to the S3 bucket the environment names). */
  archive?: boolean
  /** Seconds. */
  idleTimeout: number
  mirror?: boolean
}

/** The arguments of `cellstream stream` for one pipeline instance, then `extra`. */
export function pipelineArgs(o: PipelineArgs, ...extra: string[]): string[] {
  return [
    ...['--input-topic', o.input, '--metadata-topic', o.metadata, '--alerts-topic', o.alerts ?? `${o.group}-alerts`],
    ...['--group', o.group, '--state-dir', o.stateDir ?? join(o.dir, 'state')],
    ...(o.archive === false ? [] : ['--archive-dir', join(o.dir, 'archive')]),
    ...['--idle-timeout', String(o.idleTimeout)],
    ...(o.mirror === true ? ['--mirror'] : []),
    ...extra
  ]
}

const iso = (value: unknown): string => (value as Date).toISOString().replace('.000Z', 'Z')

/** The rows of one of the tables the pipeline writes, as sorted text lines (detected_at left out). */
export async function tableLines(
  db: Db,
  table: 'bytes' | 'bytes_hourly' | 'user_quota_limit' | 'quota_alerts' | 'user_metadata'
): Promise<string[]> {
  const query = {
    bytes: 'SELECT "timestamp", type, id, value FROM bytes',
    bytes_hourly: 'SELECT "timestamp", type, id, value FROM bytes_hourly',
    user_quota_limit: 'SELECT "timestamp", email, usage, quota FROM user_quota_limit',
    quota_alerts: 'SELECT "timestamp", email, usage, quota FROM quota_alerts',
    user_metadata: 'SELECT id, name, email, quota FROM user_metadata'
  }[table]
  const lines = await db.map(query, [], row =>
    Object.values(row as Record<string, unknown>)
      .map(v => (v instanceof Date ? iso(v) : String(v)))
      .join(' ')
  )
  return lines.sort()
}

/** Stops a stream with SIGTERM (a commit, then it leaves its group) and returns its exit code. */
export async function stopStream(stream: StreamProcess): Promise<number | null> {
  const exited =
    stream.child.exitCode !== null || stream.child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>(resolve => stream.child.once('exit', () => resolve()))
  stream.child.kill('SIGTERM')
  await exited
  return stream.child.exitCode
}

export interface OutageSeen {
  ready: Set<number>
  live: Set<number>
  reasons: Set<string>
}

/**
 * Asks the stream at `base` for /ready and /health every 2 s until `until` (epoch ms), running
 * `each` after every round (the test's checks that nothing gave up); returns every status and
 * reason it saw.
 */
export async function watchOutage(base: string, until: number, each: () => void): Promise<OutageSeen> {
  const seen: OutageSeen = { ready: new Set(), live: new Set(), reasons: new Set() }
  while (Date.now() < until) {
    const ready = await fetch(`${base}/ready`)
    seen.ready.add(ready.status)
    seen.reasons.add(String(((await ready.json()) as { reason?: string }).reason))
    seen.live.add((await fetch(`${base}/health`)).status)
    each()
    await sleep(2000)
  }
  return seen
}
