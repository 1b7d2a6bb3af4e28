// Test harness for Kafka: one real broker for the whole run (the one KAFKA_BROKERS names,
// or a local one started on demand), and fresh topics per test, deleted afterwards.
import { randomUUID } from 'node:crypto'
import { mkdir, rm, stat } from 'node:fs/promises'
import type { ExecutionContext } from 'ava'
import { LocalKafka } from '../../src/infra/local-kafka.ts'
import { ensureTopics, pingKafka, withAdmin, type TopicSpec } from '../../src/kafka/admin.ts'
import { parseBrokers } from '../../src/lib/options.ts'
import { DEFAULT_KAFKA_BROKERS } from '../../src/lib/config.ts'
import { sleep } from '../../src/lib/processes.ts'

const LOCK = './data/kafka-start.lock'
let brokers: Promise<string[]> | undefined

/** The brokers every test talks to; starts the local cluster if nothing answers. */
export function kafkaBrokers (): Promise<string[]> {
  brokers ??= ensureBroker()
  return brokers
}

async function ensureBroker (): Promise<string[]> {
  const external = process.env.KAFKA_BROKERS
  const list = parseBrokers(external ?? DEFAULT_KAFKA_BROKERS)
  if (await pingKafka(list).then(() => true, () => false)) return list
  if (external !== undefined) throw new Error(`KAFKA_BROKERS=${external} does not answer`)
  // Test files run in parallel processes: only one of them may start the broker.
  await withLock(async () => {
    if (await pingKafka(list).then(() => true, () => false)) return
    await new LocalKafka({ dataDir: './data/kafka' }).start(1)
  })
  return list
}

async function withLock (fn: () => Promise<void>): Promise<void> {
  await mkdir('./data', { recursive: true })
  for (;;) {
    try {
      await mkdir(LOCK)
      break
    } catch {
      const age = Date.now() - (await stat(LOCK).then(s => s.mtimeMs, () => Date.now()))
      if (age > 180_000) await rm(LOCK, { recursive: true, force: true })
      await sleep(200)
    }
  }
  try {
    await fn()
  } finally {
    await rm(LOCK, { recursive: true, force: true })
  }
}

/** A name no other test uses. */
export function uniqueName (prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

/** Creates fresh topics for one test and deletes them when it ends. Returns their names in order. */
export async function testTopics (t: ExecutionContext, specs: Array<Omit<TopicSpec, 'name'> & { prefix: string }>): Promise<string[]> {
  const list = await kafkaBrokers()
  const named = specs.map(({ prefix, ...spec }) => ({ ...spec, name: uniqueName(prefix) }))
  await withAdmin(list, admin => ensureTopics(admin, named))
  t.teardown(() => withAdmin(list, admin => admin.deleteTopics({ topics: named.map(s => s.name) })).catch(() => {}))
  return named.map(s => s.name)
}
