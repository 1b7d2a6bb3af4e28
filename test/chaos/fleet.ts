// The stream instances of a scenario, run as `cellstream stream` child processes the way an
// operator runs them, each with its own state folder and a log file it appends to across
// restarts; and the metadata mirror they join against.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sleep } from '../../src/lib/processes.ts'
import { pipelineArgs } from '../helpers/stream.ts'
import type { Journal, Rig } from './rig.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

export interface Status {
  live: boolean
  ready: boolean
  reason?: string
  commits: number
  /** The input and partials partitions it works on. */
  assignment: string[]
}

export class Instance {
  readonly name: string
  child: ChildProcess
  /** The log's length when this process started: its own lines come after. */
  logStart = 0
  startedAt = Date.now()
  #port: string | undefined

  constructor(name: string, child: ChildProcess) {
    this.name = name
    this.child = child
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Its `/ready` answer, or undefined while it has no HTTP server yet or does not answer. */
  async status(logPath: string): Promise<Status | undefined> {
    if (this.#port === undefined) {
      const log = (await readFile(logPath, 'utf8').catch(() => '')).slice(this.logStart)
      this.#port = /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log)?.[1]
      if (this.#port === undefined) return undefined
    }
    try {
      const response = await fetch(`http://127.0.0.1:${this.#port}/ready`, { signal: AbortSignal.timeout(2000) })
      return (await response.json()) as Status
    } catch {
      return undefined
    }
  }
}

export class Fleet {
  readonly instances = new Map<string, Instance>()
  readonly #rig: Rig
  readonly #journal: Journal
  readonly #args: string[]
  /** Every instance ever started, for the logs. */
  readonly #names = new Set<string>()

  constructor(rig: Rig, journal: Journal, args: string[] = []) {
    this.#rig = rig
    this.#journal = journal
    this.#args = args
    rig.defer(() => this.killAll())
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, KAFKA_BROKERS: this.#rig.brokers.join(','), DATABASE_URL: this.#rig.url }
  }

  logPath(name: string): string {
    return join(this.#rig.dir, `${name}.log`)
  }

  /** Starts instance `name` (again, after a kill: same state folder, log appended). */
  async start(name: string): Promise<Instance> {
    const rig = this.#rig
    const logPath = this.logPath(name)
    const logStart = (await readFile(logPath).catch(() => Buffer.alloc(0))).length
    const fd = openSync(logPath, 'a')
    let child: ChildProcess
    try {
      child = spawn(
        process.execPath,
        [
          BIN,
          'stream',
          ...pipelineArgs(
            {
              input: rig.input,
              metadata: rig.metadata,
              group: rig.group,
              dir: rig.dir,
              stateDir: join(rig.dir, 'state', name),
              idleTimeout: 3
            },
            ...['--commit-interval', '300', ...this.#args]
          )
        ],
        { env: this.env(), stdio: ['ignore', 'ignore', fd] }
      )
    } finally {
      closeSync(fd)
    }
    const instance = new Instance(name, child)
    instance.logStart = logStart
    this.instances.set(name, instance)
    this.#names.add(name)
    this.#journal.count('starts')
    return instance
  }

  async status(name: string): Promise<Status | undefined> {
    return await this.instances.get(name)?.status(this.logPath(name))
  }

  /** kill -9, and waits until the process is gone. */
  async kill(name: string): Promise<void> {
    const instance = this.instances.get(name)
    if (instance === undefined || !instance.running) return
    const exited = once(instance.child, 'exit')
    instance.child.kill('SIGKILL')
    await exited
  }

  /** SIGTERM (a last commit, then it leaves its group), SIGKILL after a minute; returns the exit code. */
  async stop(name: string): Promise<number | null> {
    const instance = this.instances.get(name)
    if (instance === undefined) return null
    if (instance.running) {
      const exited = once(instance.child, 'exit')
      instance.child.kill('SIGTERM')
      const timer = setTimeout(() => {
        this.#journal.note(`${name} did not stop within 60 s of SIGTERM: kill -9`)
        instance.child.kill('SIGKILL')
      }, 60_000)
      await exited
      clearTimeout(timer)
    }
    this.instances.delete(name)
    return instance.child.exitCode
  }

  /**
   * Does what an orchestrator does: an instance that exited, or whose /health says it is not
   * live, is started again. Each such restart is counted and printed. Until `stop`.
   */
  watchLiveness(): { stop: () => Promise<void> } {
    let stopping = false
    const loop = (async () => {
      while (!stopping) {
        for (const [name, instance] of this.instances) {
          if (stopping) break
          if (!instance.running) {
            const log = (await readFile(this.logPath(name), 'utf8').catch(() => '')).trimEnd().split('\n')
            this.#journal.note(
              `${name} exited (${instance.child.exitCode}: ${log.at(-1)}): restarted, as an orchestrator would`
            )
            this.#journal.count('restarts after an exit')
            await this.start(name)
            continue
          }
          const status = await this.status(name)
          if (status === undefined || status.live) continue
          this.#journal.note(`${name} is not live (${status.reason}): restarted, as a liveness probe would`)
          this.#journal.count('restarts by the liveness probe')
          await this.kill(name)
          await this.start(name)
        }
        await sleep(2000)
      }
    })()
    return {
      stop: async () => {
        stopping = true
        await loop
      }
    }
  }

  async stopAll(): Promise<Array<number | null>> {
    return await Promise.all([...this.instances.keys()].map(name => this.stop(name)))
  }

  killAll(): void {
    for (const instance of this.instances.values()) instance.child.kill('SIGKILL')
  }

  /** The last lines of each instance's log, for a failure report. */
  async tails(lines = 30): Promise<string> {
    const parts: string[] = []
    for (const name of this.#names) {
      const log = (await readFile(this.logPath(name), 'utf8').catch(() => '')).trimEnd().split('\n')
      parts.push(`--- last ${Math.min(lines, log.length)} log lines of ${name}:\n${log.slice(-lines).join('\n')}`)
    }
    return parts.join('\n')
  }
}

/** Runs `cellstream mirror` until the metadata topic holds every user, then leaves it running until the scenario ends. */
export async function startMirror(rig: Rig, env: NodeJS.ProcessEnv): Promise<void> {
  const fd = openSync(join(rig.dir, 'mirror.log'), 'a')
  let child: ChildProcess
  try {
    child = spawn(process.execPath, [BIN, 'mirror', '--topic', rig.metadata], {
      env,
      stdio: ['ignore', 'ignore', fd]
    })
  } finally {
    closeSync(fd)
  }
  rig.defer(() => child.kill('SIGKILL'))
  // The stream reads the metadata topic to its end before it processes anything, so a
  // snapshot published before the first instance starts is what every instance joins against.
  const deadline = Date.now() + 60_000
  while (!/snapshot: published/.test(await readFile(join(rig.dir, 'mirror.log'), 'utf8').catch(() => ''))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`the mirror did not publish its snapshot: ${await readFile(join(rig.dir, 'mirror.log'), 'utf8')}`)
    await sleep(200)
  }
}
