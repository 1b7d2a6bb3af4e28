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
import { createConsumer, createProducer } from '../../src/kafka/clients.ts'
import { Fetcher, readToEnd } from '../../src/kafka/fetcher.ts'
import type { RawRecord } from '../../src/topology/records.ts'
import { readRecordFile } from '../../src/simulator/record-file.ts'

const LOCK = './data/kafka-start.lock'
let brokers: Promise<string[]> | undefined

/** The brokers every test talks to; starts the local cluster if nothing answers. */
export function kafkaBrokers(): Promise<string[]> {
  brokers ??= ensureBroker()
  return brokers
}

async function ensureBroker(): Promise<string[]> {
  const external = process.env.KAFKA_BROKERS
  const list = parseBrokers(external ?? DEFAULT_KAFKA_BROKERS)
  if (
    await pingKafka(list).then(
      () => true,
      () => false
    )
  )
    return list
  if (external !== undefined) throw new Error(`KAFKA_BROKERS=${external} does not answer`)
  // Test files run in parallel processes: only one of them may start the broker.
  await withLock(async () => {
    if (
      await pingKafka(list).then(
        () => true,
        () => false
      )
    )
      return
    await new LocalKafka({ dataDir: './data/kafka' }).start(1)
  })
  return list
}

async function withLock(fn: () => Promise<void>): Promise<void> {
  await mkdir('./data', { recursive: true })
  for (;;) {
    try {
      await mkdir(LOCK)
      break
    } catch {
      const age =
        Date.now() -
        (await stat(LOCK).then(
          s => s.mtimeMs,
          () => Date.now()
        ))
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
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

/** Creates fresh topics for one test and deletes them when it ends. Returns their names in order. */
export async function testTopics(
  t: ExecutionContext,
  specs: Array<Omit<TopicSpec, 'name'> & { prefix: string }>
): Promise<string[]> {
  const list = await kafkaBrokers()
  const named = specs.map(({ prefix, ...spec }) => ({ ...spec, name: uniqueName(prefix) }))
  await withAdmin(list, admin => ensureTopics(admin, named))
  t.teardown(() => withAdmin(list, admin => admin.deleteTopics({ topics: named.map(s => s.name) })).catch(() => {}))
  return named.map(s => s.name)
}

/**
 * Deletes, when the test ends, every topic and consumer group whose name starts with one of
 * `prefixes`: what a stream application creates for itself under its group and input names
 * (internal topics, `<input>-dlq`, `<input>-late`, the groups of its tables and readers).
 */
export function cleanUpAfter(t: ExecutionContext, prefixes: string[]): void {
  t.teardown(async () => {
    const list = await kafkaBrokers()
    const matches = (name: string): boolean => prefixes.some(prefix => name.startsWith(prefix))
    await withAdmin(list, async admin => {
      const topics = (await admin.listTopics()).filter(matches)
      if (topics.length > 0) await admin.deleteTopics({ topics })
      const groups = [...(await admin.listGroups()).keys()].filter(matches)
      if (groups.length > 0) await admin.deleteGroups({ groups }).catch(() => {})
    }).catch(() => {})
  })
}

/**
 * Produces a record file (`simulate --out` format) the way `simulate` spreads null keys: record
 * n to partition n % partitions, in file order, so `truth --partitions` sees the same streams.
 * `first` numbers the file's first record, for a file that continues another one.
 */
export async function produceRecordFile(topic: string, path: string, partitions: number, first = 0): Promise<number> {
  const producer = createProducer(await kafkaBrokers(), uniqueName('file-producer'))
  let n = first
  try {
    let messages: Array<{ topic: string; partition: number; value: Buffer }> = []
    let bytes = 0
    for await (const payload of readRecordFile(path)) {
      // A large record goes alone: one request's batch per partition stays under the limit.
      if (messages.length >= 500 || (messages.length > 0 && bytes + payload.length > 256 << 10)) {
        await producer.send({ messages })
        messages = []
        bytes = 0
      }
      messages.push({ topic, partition: n++ % partitions, value: payload })
      bytes += payload.length
    }
    if (messages.length > 0) await producer.send({ messages })
  } finally {
    await producer.close()
  }
  return n - first
}

/** Every record of `topic` up to its end now (read_committed), in partition order. */
export async function readTopic(topic: string): Promise<RawRecord[]> {
  const consumer = createConsumer(await kafkaBrokers(), 'reader', uniqueName('reader'))
  try {
    const fetcher = new Fetcher(consumer)
    const partitions = await fetcher.partitions(topic)
    const records: RawRecord[] = []
    for await (const batch of readToEnd(fetcher, topic, new Map(Array.from({ length: partitions }, (_, p) => [p, 0n]))))
      records.push(...batch)
    return records
  } finally {
    await consumer.close(true)
  }
}
