// A real Apache Kafka (KRaft, combined broker+controller nodes) run from its Maven Central
// artifacts, for development, the demo and the tests. Jars are cached outside the
// repository (keyed by the pom's content); data lives under a git-ignored folder.
import { createHash } from 'node:crypto'
import { spawn } from 'node:child_process'
import { existsSync, openSync, closeSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CellstreamError, UnavailableError, UsageError } from '../lib/errors.ts'
import { isAlive, run, sleep, waitFor } from '../lib/processes.ts'
import { CONTROLLER_PORT_OFFSET, kafkaClusterId, serverProperties } from './kafka-properties.ts'
import { pingKafka } from '../kafka/admin.ts'
import type { KafkaSecurity } from '../kafka/security.ts'
import {
  clientEnvironment,
  clientSecurity,
  makeSecurityFiles,
  scramFormatArgs,
  secureListenerProperties,
  securityFiles
} from './local-kafka-security.ts'

const POM = fileURLToPath(new URL('../../infra/kafka/pom.xml', import.meta.url))
export const DEFAULT_BROKER_PORT = 9092

export interface LocalKafkaOptions {
  /** Folder holding each node's config, logs and data. */
  dataDir: string
  /** Folder caching the resolved jars, outside the repository. */
  cacheDir?: string
  /** Port of the first broker; node i listens on basePort + i - 1. */
  basePort?: number
  /** How to report progress (resolving jars, formatting, waiting). */
  log?: (line: string) => void
  /** SASL_SSL listeners with SCRAM users and a CA of its own instead of plaintext ones. */
  secure?: boolean
}

export interface NodeStatus {
  id: number
  port: number
  pid?: number
  alive: boolean
}

interface ClusterFile {
  clusterId: string
  nodes: number
  basePort: number
  secure?: boolean
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cellstream')
}

export function brokerAddresses(nodes: number, basePort = DEFAULT_BROKER_PORT): string[] {
  return Array.from({ length: nodes }, (_, i) => `127.0.0.1:${basePort + i}`)
}

export class LocalKafka {
  readonly dataDir: string
  readonly cacheDir: string
  readonly basePort: number
  readonly secure: boolean
  readonly #log: (line: string) => void

  constructor(options: LocalKafkaOptions) {
    this.dataDir = resolve(options.dataDir)
    this.cacheDir = options.cacheDir ?? defaultCacheDir()
    this.basePort = options.basePort ?? DEFAULT_BROKER_PORT
    this.secure = options.secure ?? false
    this.#log = options.log ?? (() => {})
  }

  /** Starts a cluster of `nodes` nodes unless one already runs (then only its dead nodes); resolves once every broker answers. */
  async start(nodes: 1 | 3): Promise<{ started: boolean; brokers: string[] }> {
    const cluster = await this.#readCluster()
    const running = await this.status()
    if (running.some(n => n.alive)) {
      if (cluster !== undefined && !this.#matches(cluster, nodes)) {
        throw new UsageError(
          `a local Kafka cluster of ${cluster.nodes} node(s) on port ${cluster.basePort}${cluster.secure === true ? ' (secure)' : ''} is already running; run 'cellstream kafka stop' first`
        )
      }
      // Nodes of the running cluster that died (a lost broker) are started again.
      const dead = running.filter(n => !n.alive)
      if (dead.length > 0) {
        const classpath = await this.resolveJars()
        for (const node of dead) await this.#launch(classpath, node.id)
      }
      const brokers = running.map(n => `127.0.0.1:${n.port}`)
      await this.#waitForBrokers(brokers, await this.status())
      return { started: dead.length > 0, brokers }
    }

    await this.#checkPortsFree(nodes)
    const classpath = await this.resolveJars()
    const reusable = cluster !== undefined && this.#matches(cluster, nodes)
    const current = reusable ? cluster : await this.#format(classpath, nodes)
    for (let id = 1; id <= current.nodes; id++) await this.#launch(classpath, id)
    const brokers = brokerAddresses(nodes, this.basePort)
    await this.#waitForBrokers(brokers, await this.status())
    return { started: true, brokers }
  }

  /** How clients authenticate to the cluster in the folder: none, or SCRAM-SHA-512 over TLS. */
  async clientSecurity(): Promise<KafkaSecurity> {
    return (await this.#readCluster())?.secure === true ? clientSecurity(securityFiles(this.dataDir)) : {}
  }

  /** The variables that point a `cellstream` command at this cluster (passwords stay in files). */
  async clientEnvironment(): Promise<Record<string, string>> {
    const cluster = await this.#readCluster()
    const brokers = brokerAddresses(cluster?.nodes ?? 1, cluster?.basePort ?? this.basePort)
    return cluster?.secure === true
      ? clientEnvironment(securityFiles(this.dataDir), brokers)
      : { KAFKA_BROKERS: brokers.join(',') }
  }

  #matches(cluster: ClusterFile, nodes: number): boolean {
    return cluster.nodes === nodes && cluster.basePort === this.basePort && (cluster.secure ?? false) === this.secure
  }

  /** Stops every node: SIGTERM, then SIGKILL after a grace period. Returns how many were running. */
  async stop(timeoutMs = 30_000): Promise<number> {
    const nodes = (await this.status()).filter(n => n.alive && n.pid !== undefined)
    for (const node of nodes) process.kill(node.pid!, 'SIGTERM')
    const stopped = await waitFor(async () => (nodes.every(n => !isAlive(n.pid!)) ? true : undefined), { timeoutMs })
    if (stopped === undefined) {
      for (const node of nodes) if (isAlive(node.pid!)) process.kill(node.pid!, 'SIGKILL')
      await sleep(500)
    }
    for (const node of nodes) await rm(this.#pidFile(node.id), { force: true })
    return nodes.length
  }

  /** Deletes all local Kafka data (topics, offsets); the cluster must be stopped. */
  async wipe(): Promise<void> {
    if ((await this.status()).some(n => n.alive))
      throw new UsageError('stop the local Kafka cluster before wiping its data')
    await rm(this.dataDir, { recursive: true, force: true })
  }

  async status(): Promise<NodeStatus[]> {
    const cluster = await this.#readCluster()
    if (cluster === undefined) return []
    const nodes: NodeStatus[] = []
    for (let id = 1; id <= cluster.nodes; id++) {
      const pid = await readPid(this.#pidFile(id))
      nodes.push({ id, port: cluster.basePort + id - 1, pid, alive: pid !== undefined && isAlive(pid) })
    }
    return nodes
  }

  /** Resolves the broker's jars with Maven (once; later calls hit the cache) and returns the classpath. */
  async resolveJars(): Promise<string> {
    const pom = await readFile(POM)
    const libs = join(this.cacheDir, `kafka-${createHash('sha256').update(pom).digest('hex').slice(0, 12)}`)
    if (!existsSync(libs)) {
      await requireTool('java', ['-version'], 'Java (a JDK 17 or newer)')
      await requireTool('mvn', ['-v'], 'Apache Maven')
      this.#log('resolving Apache Kafka jars from Maven Central (first run only)…')
      const staging = `${libs}.${process.pid}.tmp`
      const result = await run(
        'mvn',
        ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`],
        'Apache Maven'
      )
      if (result.code !== 0) {
        await rm(staging, { recursive: true, force: true })
        throw new UnavailableError(`mvn could not resolve Apache Kafka: ${lastLine(result.stdout + result.stderr)}`)
      }
      await rename(staging, libs).catch(async error => {
        // A concurrent start may have won the race; its copy is as good as ours.
        await rm(staging, { recursive: true, force: true })
        if (!existsSync(libs)) throw error
      })
    }
    await requireTool('java', ['-version'], 'Java (a JDK 17 or newer)')
    return join(libs, '*')
  }

  async #format(classpath: string, nodes: number): Promise<ClusterFile> {
    await rm(this.dataDir, { recursive: true, force: true })
    const cluster: ClusterFile = { clusterId: kafkaClusterId(), nodes, basePort: this.basePort, secure: this.secure }
    const files = this.secure ? await makeSecurityFiles(this.dataDir) : undefined
    this.#log(`formatting KRaft storage for ${nodes} node(s)…`)
    for (let id = 1; id <= nodes; id++) {
      const dir = this.#nodeDir(id)
      await mkdir(join(dir, 'logs'), { recursive: true })
      const brokerPort = this.basePort + id - 1
      const listeners =
        files === undefined
          ? undefined
          : await secureListenerProperties(files, brokerPort, brokerPort + CONTROLLER_PORT_OFFSET)
      await writeFile(
        join(dir, 'server.properties'),
        serverProperties(id, nodes, this.basePort, join(dir, 'logs'), listeners),
        { mode: 0o600 }
      )
      const result = await run(
        'java',
        [
          '-cp',
          classpath,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          cluster.clusterId,
          '-c',
          join(dir, 'server.properties'),
          ...(files === undefined ? [] : await scramFormatArgs(files))
        ],
        'Java'
      )
      if (result.code !== 0)
        throw new UnavailableError(`formatting Kafka storage failed: ${lastLine(result.stderr + result.stdout)}`)
    }
    await writeFile(join(this.dataDir, 'cluster.json'), JSON.stringify(cluster) + '\n')
    return cluster
  }

  async #launch(classpath: string, id: number): Promise<void> {
    const dir = this.#nodeDir(id)
    const out = openSync(join(dir, 'broker.log'), 'a')
    const child = spawn(
      'java',
      [
        '-Xms256m',
        '-Xmx1g',
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-Dorg.slf4j.simpleLogger.showDateTime=true',
        '-cp',
        classpath,
        'kafka.Kafka',
        join(dir, 'server.properties')
      ],
      { detached: true, stdio: ['ignore', out, out] }
    )
    closeSync(out)
    child.unref()
    await writeFile(this.#pidFile(id), `${child.pid}\n`)
  }

  async #waitForBrokers(brokers: string[], nodes: NodeStatus[]): Promise<void> {
    this.#log(`waiting for ${brokers.length} broker(s) to answer…`)
    const security = await this.clientSecurity()
    const ready = await waitFor(
      async () => {
        const dead = nodes.find(n => n.pid !== undefined && !isAlive(n.pid))
        if (dead !== undefined) {
          const log = await readFile(join(this.#nodeDir(dead.id), 'broker.log'), 'utf8').catch(() => '')
          throw new UnavailableError(
            `Kafka node ${dead.id} exited during start: ${lastLine(log)} (see ${join(this.#nodeDir(dead.id), 'broker.log')})`
          )
        }
        const count = await pingKafka(brokers, security).catch(() => 0)
        return count >= brokers.length ? true : undefined
      },
      { timeoutMs: 90_000, intervalMs: 500 }
    )
    if (ready === undefined)
      throw new UnavailableError(`Kafka did not answer at ${brokers.join(',')} within 90 s (see ${this.dataDir})`)
  }

  async #checkPortsFree(nodes: number): Promise<void> {
    for (const broker of brokerAddresses(nodes, this.basePort)) {
      if (
        await pingKafka([broker]).then(
          () => true,
          () => false
        )
      ) {
        throw new CellstreamError(
          'CS_PORT_TAKEN',
          `another Kafka already answers on ${broker} (not started from ${this.dataDir}); use it with KAFKA_BROKERS or stop it`
        )
      }
    }
  }

  async #readCluster(): Promise<ClusterFile | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dataDir, 'cluster.json'), 'utf8')) as ClusterFile
    } catch {
      return undefined
    }
  }

  #nodeDir(id: number): string {
    return join(this.dataDir, `node-${id}`)
  }
  #pidFile(id: number): string {
    return join(this.#nodeDir(id), 'pid')
  }
}

async function requireTool(command: string, args: string[], what: string): Promise<void> {
  await run(command, args, what)
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map(l => l.trim())
    .filter(l => l !== '')
  return lines.at(-1) ?? '(no output)'
}
