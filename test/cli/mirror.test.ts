import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { createConsumer } from '../../src/kafka/clients.ts'
import { Fetcher, READ_UNCOMMITTED, readToEnd } from '../../src/kafka/fetcher.ts'
import { upsertUsers } from '../../src/db/provision.ts'
import { waitFor } from '../../src/lib/processes.ts'
import { REFERENCE_USERS } from '../../src/lib/reference.ts'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))
const FEDE = '00000000-0000-0000-0000-000000000004'

async function lastValue(topic: string, key: string): Promise<string | null | undefined> {
  const consumer = createConsumer(await kafkaBrokers(), 'mirror-cli-test', uniqueName('unused'))
  try {
    let last: string | null | undefined
    for await (const batch of readToEnd(
      new Fetcher(consumer, { isolationLevel: READ_UNCOMMITTED }),
      topic,
      new Map([[0, 0n]])
    )) {
      for (const record of batch) if (record.key?.toString() === key) last = record.value?.toString() ?? null
    }
    return last
  } finally {
    await consumer.close(true)
  }
}

test('mirror publishes the table, follows a quota change and stops cleanly on SIGTERM', async t => {
  const { url, db } = await testDatabase(t)
  await upsertUsers(db, REFERENCE_USERS)
  const [topic] = await testTopics(t, [
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const brokers = (await kafkaBrokers()).join(',')
  const child = spawn(
    process.execPath,
    [BIN, 'mirror', '--topic', topic!, '--brokers', brokers, '--database-url', url],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr.on('data', chunk => {
    stderr += chunk
  })
  const exited = once(child, 'exit')

  // Generous waits: hang guards only.
  t.truthy(
    await waitFor(async () => (stderr.includes('following changes') ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 100
    }),
    stderr
  )
  t.regex(stderr, /^snapshot: published 20 rows and 0 tombstones to /m)

  await db.none('UPDATE user_metadata SET quota = 999 WHERE id = $1', [FEDE])
  const value = await waitFor(
    async () => {
      const last = await lastValue(topic!, FEDE)
      return last?.includes('"quota":999') === true ? last : undefined
    },
    { timeoutMs: 30_000, intervalMs: 100 }
  )
  t.is(value, `{"id":"${FEDE}","name":"fede","email":"fede@gmail.com","quota":999}`)

  child.kill('SIGTERM')
  const [code] = await exited
  t.is(code, 0, stderr)
  t.regex(stderr, /stopped after publishing 21 records\n$/)
})

test('mirror reports wrong flags and unreachable services in one line', async t => {
  const flag = await cellstream(['mirror', '--partitions', 'many'])
  t.is(flag.code, 2)
  t.is(flag.stderr, "cellstream: --partitions must be a whole number, got 'many'\n")

  const topic = await cellstream(['mirror', '--topic', 'no spaces'])
  t.is(topic.code, 2)
  t.regex(topic.stderr, /^cellstream: --topic must be [^\n]+\n$/)

  const { url } = await testDatabase(t)
  const kafka = await cellstream(['mirror', '--brokers', '127.0.0.1:1', '--database-url', url])
  t.is(kafka.code, 3)
  t.regex(kafka.stderr, /^cellstream: Kafka is not reachable at 127\.0\.0\.1:1: [^\n]+\n$/)

  const postgres = await cellstream([
    'mirror',
    '--topic',
    uniqueName('user-metadata'),
    '--database-url',
    'postgres://postgres@127.0.0.1:1/cellstream'
  ])
  t.is(postgres.code, 3)
  t.is(
    postgres.stderr,
    'cellstream: PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/cellstream: ECONNREFUSED\n'
  )
})
