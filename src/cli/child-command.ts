// Runs a `cellstream` command as a child process, the way the demo runs each part of the
// pipeline. Everything the child writes goes to its log file; this process's log shows the
// child's warnings and errors, its results (stdout), and its other log lines at debug level.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CellstreamError } from '../lib/errors.ts'
import { logger } from './logger.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

export interface ChildCommand {
  child: ChildProcess
  name: string
  logFile: string
  /** The first capture group of the next line of its output that matches. */
  waitFor(pattern: RegExp): Promise<string>
}

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): ChildCommand {
  mkdirSync(logDir, { recursive: true })
  const logFile = join(logDir, `${name}.log`)
  const file = createWriteStream(logFile)
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const waiters = new Set<(line: string) => void>()
  const follow = (stream: NodeJS.ReadableStream, show: (line: string) => void): void => {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', line => {
      file.write(`${line}\n`)
      for (const waiter of waiters) waiter(line)
      if (line.trim() !== '') show(line)
    })
  }
  const log = logger().child({ component: name })
  follow(child.stdout!, line => {
    log.info(line)
  })
  follow(child.stderr!, line => {
    const entry = parseLogLine(line)
    if (entry === undefined) log.warn(line)
    else if (entry.level === 'warn' || entry.level === 'error' || entry.level === 'fatal') log[entry.level](entry.msg)
    else log.debug(entry.msg)
  })
  child.once('close', () => {
    file.end()
  })
  return {
    child,
    name,
    logFile,
    waitFor: pattern =>
      new Promise((resolve, reject) => {
        const stopped = (code: number | null): void => {
          waiters.delete(waiter)
          reject(new CellstreamError('CS_DEMO', `'cellstream ${args[0]}' stopped (exit ${code}); see ${logFile}`))
        }
        const waiter = (line: string): void => {
          const match = pattern.exec(line)
          if (match === null) return
          waiters.delete(waiter)
          child.off('exit', stopped)
          resolve(match[1]!)
        }
        waiters.add(waiter)
        child.once('exit', stopped)
      })
  }
}

/** The children of one run: started alike, stopped together. */
export class ChildCommands {
  readonly #env: NodeJS.ProcessEnv
  readonly #logDir: string
  readonly #children: ChildProcess[] = []
  #stopping = false

  constructor(env: NodeJS.ProcessEnv, logDir: string) {
    this.#env = env
    this.#logDir = logDir
  }

  get stopping(): boolean {
    return this.#stopping
  }

  /** Starts a command that runs until stopped; one that stops by itself is reported. */
  start(name: string, args: string[]): ChildCommand {
    const command = startChild(name, args, this.#env, this.#logDir)
    this.#children.push(command.child)
    command.child.once('exit', code => {
      if (!this.#stopping) logger().error(`${name} stopped (exit ${code}); its log: ${command.logFile}`)
    })
    return command
  }

  /** Runs a command to completion. */
  async run(name: string, args: string[]): Promise<void> {
    const { child, logFile } = startChild(name, args, this.#env, this.#logDir)
    this.#children.push(child)
    const [code] = await once(child, 'exit')
    if (code !== 0 && !this.#stopping)
      throw new CellstreamError('CS_DEMO', `'cellstream ${args[0]}' failed (exit ${code}); see ${logFile}`)
  }

  /** Resolves once every command started so far has exited. */
  async exited(): Promise<void> {
    await Promise.all(
      this.#children.map(child =>
        child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined
      )
    )
  }

  async stopAll(): Promise<void> {
    this.#stopping = true
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await this.exited()
  }
}

function parseLogLine(line: string): { level: string; msg: string } | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; component?: unknown }
    if (typeof entry.level !== 'string' || typeof entry.msg !== 'string') return undefined
    return {
      level: entry.level,
      msg: typeof entry.component === 'string' ? `${entry.component}: ${entry.msg}` : entry.msg
    }
  } catch {
    return undefined
  }
}
