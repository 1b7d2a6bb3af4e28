// The resources one chaos scenario runs in: its own database, topics, consumer group and
// folder, each removed again when the scenario ends, whatever happened.
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from '../../src/db/migrate.ts'
import { closeDb, openDb, type Db } from '../../src/db/pool.ts'
import { ensureTopics, withAdmin } from '../../src/kafka/admin.ts'
import { serverUrl } from '../helpers/db.ts'
import { uniqueName } from '../helpers/kafka.ts'

/** What a scenario did and saw, printed as it goes and summed up at its end. */
export class Journal {
  readonly events: string[] = []
  readonly counts = new Map<string, number>()
  readonly #name: string
  readonly #quiet: boolean

  constructor(name: string, quiet = false) {
    this.#name = name
    this.#quiet = quiet
  }

  note(message: string): void {
    const line = `[${new Date().toISOString().slice(11, 19)}] ${this.#name}: ${message}`
    this.events.push(line)
    if (!this.#quiet) console.log(line)
  }

  count(what: string, by = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + by)
  }

  get(what: string): number {
    return this.counts.get(what) ?? 0
  }
}

export interface RigOptions {
  brokers: string[]
  partitions: number
  /** Replication factor of the scenario's topics, and of the stream's own (1 on a one-node broker). */
  replicas?: number
  topicConfig?: Record<string, string>
}

export interface Rig {
  brokers: string[]
  partitions: number
  url: string
  database: string
  db: Db
  input: string
  metadata: string
  group: string
  dir: string
  /** Runs on `close`, last added first. */
  defer: (step: () => unknown) => void
  close: () => Promise<void>
}

export async function openRig(options: RigOptions): Promise<Rig> {
  const steps: Array<() => unknown> = []
  const defer = (step: () => unknown): void => {
    steps.push(step)
  }
  const close = async (): Promise<void> => {
    for (const step of steps.reverse()) await Promise.resolve(step()).catch(() => {})
  }
  try {
    const database = `cellstream_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
    const url = serverUrl(database)
    defer(() => dropDatabase(database))
    await migrate(url)
    const db = openDb(url)
    db.$pool.on('error', () => {}) // sessions are ended on purpose in the outage scenario
    defer(() => closeDb(db))
    const dir = await mkdtemp(join(tmpdir(), 'cellstream-chaos-'))
    defer(() => rm(dir, { recursive: true, force: true }))
    const input = uniqueName('devices')
    const metadata = uniqueName('user-metadata')
    const group = uniqueName('group')
    const { brokers, partitions } = options
    const replicas = options.replicas ?? 1
    defer(() => deleteTopicsAndGroups(brokers, [input, metadata, group]))
    await withAdmin(brokers, admin =>
      ensureTopics(admin, [
        { name: input, partitions, replicas, config: options.topicConfig },
        { name: metadata, partitions: 1, replicas, config: { ...options.topicConfig, 'cleanup.policy': 'compact' } }
      ])
    )
    return { brokers, partitions, url, database, db, input, metadata, group, dir, defer, close }
  } catch (error) {
    await close()
    throw error
  }
}

async function dropDatabase(name: string): Promise<void> {
  const admin = openDb(serverUrl('postgres'))
  try {
    await admin.none('ALTER DATABASE $1:name ALLOW_CONNECTIONS true', [name]).catch(() => {})
    await admin.none('DROP DATABASE IF EXISTS $1:name WITH (FORCE)', [name])
  } finally {
    await closeDb(admin)
  }
}

/** Every topic and group named by one of `prefixes`, including the stream's internal ones. */
async function deleteTopicsAndGroups(brokers: string[], prefixes: string[]): Promise<void> {
  const matches = (name: string): boolean => prefixes.some(prefix => name.startsWith(prefix))
  await withAdmin(brokers, async admin => {
    const topics = (await admin.listTopics()).filter(matches)
    if (topics.length > 0) await admin.deleteTopics({ topics })
    const groups = [...(await admin.listGroups()).keys()].filter(matches)
    if (groups.length > 0) await admin.deleteGroups({ groups }).catch(() => {})
  })
}
