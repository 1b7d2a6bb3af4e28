import test, { type ExecutionContext } from 'ava'
import { createConsumer } from '../../src/kafka/clients.ts'
import { Fetcher, READ_UNCOMMITTED, readToEnd } from '../../src/kafka/fetcher.ts'
import { type Db } from '../../src/db/pool.ts'
import { upsertUsers } from '../../src/db/provision.ts'
import { UnavailableError } from '../../src/lib/errors.ts'
import { waitFor } from '../../src/lib/processes.ts'
import { REFERENCE_USERS } from '../../src/lib/reference.ts'
import { MetadataMirror, MirrorConflict, type MetadataMirrorOptions } from '../../src/mirror/metadata-mirror.ts'
import { cellstream } from '../helpers/cli.ts'
import { GlobalTables } from '../../src/runtime/global-tables.ts'
import { jsonSerde, stringSerde } from '../../src/lib/serdes.ts'
import { testDatabase } from '../helpers/db.ts'
import { kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'

const FEDE = '00000000-0000-0000-0000-000000000004'
const PACO = '00000000-0000-0000-0000-000000000002'
// Hang guard only: changes normally arrive well within a second.
const DEADLINE_MS = 30_000

interface TopicRecord {
  key: string
  value: unknown
}

interface Setup {
  url: string
  db: Db
  topic: string
}

/** A migrated database holding the 20 reference users, and an empty compacted topic. */
async function provisioned(t: ExecutionContext, partitions = 1): Promise<Setup> {
  const { url, db } = await testDatabase(t)
  await upsertUsers(db, REFERENCE_USERS)
  const [topic] = await testTopics(t, [
    { prefix: 'user-metadata', partitions, config: { 'cleanup.policy': 'compact' } }
  ])
  return { url, db, topic: topic! }
}

/** A mirror of `setup`, stopped when the test ends; started unless `start` is false. */
async function newMirror(
  t: ExecutionContext,
  setup: Pick<Setup, 'url' | 'topic'>,
  options: Partial<MetadataMirrorOptions> & { start?: boolean } = {}
): Promise<MetadataMirror> {
  const { start = true, ...rest } = options
  const mirror = new MetadataMirror({
    databaseUrl: setup.url,
    topic: setup.topic,
    brokers: await kafkaBrokers(),
    heartbeatMs: 500,
    clientId: uniqueName('mirror'),
    ...rest
  })
  t.teardown(() => mirror.stop())
  if (start) await mirror.start()
  return mirror
}

/** Every record of the topic, in order within each partition; a tombstone has value null. */
async function readTopic(topic: string): Promise<TopicRecord[]> {
  const consumer = createConsumer(await kafkaBrokers(), 'mirror-test', uniqueName('unused'))
  try {
    const fetcher = new Fetcher(consumer, { isolationLevel: READ_UNCOMMITTED })
    const partitions = await fetcher.partitions(topic)
    const records: TopicRecord[] = []
    for await (const batch of readToEnd(
      fetcher,
      topic,
      new Map(Array.from({ length: partitions }, (_, p) => [p, 0n]))
    )) {
      for (const record of batch)
        records.push({
          key: record.key!.toString(),
          value: record.value === null ? null : JSON.parse(record.value.toString())
        })
    }
    return records
  } finally {
    await consumer.close(true)
  }
}

/** What a compacted topic keeps: the last value of each key, without tombstoned keys. */
function compactedView(records: TopicRecord[]): Record<string, unknown> {
  const view = new Map<string, unknown>()
  for (const { key, value } of records) {
    if (value === null) view.delete(key)
    else view.set(key, value)
  }
  return Object.fromEntries([...view].sort(([a], [b]) => a.localeCompare(b)))
}

async function tableView(db: Db): Promise<Record<string, unknown>> {
  const rows = await db.any('SELECT id, name, email, quota FROM user_metadata ORDER BY id')
  return Object.fromEntries(rows.map(row => [row.id as string, row]))
}

/** Polls the topic until `check` holds; returns the last records read either way. */
async function waitForTopic(topic: string, check: (records: TopicRecord[]) => boolean): Promise<TopicRecord[]> {
  let last: TopicRecord[] = []
  await waitFor(
    async () => {
      last = await readTopic(topic)
      return check(last) ? true : undefined
    },
    { timeoutMs: DEADLINE_MS, intervalMs: 100 }
  )
  return last
}

const lastOf = (records: TopicRecord[], key: string): TopicRecord | undefined => records.findLast(r => r.key === key)
const quotaOf = (records: TopicRecord[], key: string): number | undefined =>
  (lastOf(records, key)?.value as { quota?: number } | null | undefined)?.quota

test('the snapshot publishes every row, keyed by id, as compact JSON', async t => {
  const setup = await provisioned(t, 3)
  const { db, topic } = setup
  const mirror = await newMirror(t, setup)
  t.is(mirror.state, 'active')
  const records = await readTopic(topic)
  t.is(records.length, 20)
  t.deepEqual(compactedView(records), await tableView(db))
  t.deepEqual(lastOf(records, FEDE)?.value, { id: FEDE, name: 'fede', email: 'fede@gmail.com', quota: 5000 })
})

test('a changed quota reaches the topic promptly, and a deleted row becomes a tombstone', async t => {
  const setup = await provisioned(t)
  const { db, topic } = setup
  await newMirror(t, setup)

  const changedAt = Date.now()
  await db.none('UPDATE user_metadata SET quota = 123456 WHERE id = $1', [FEDE])
  let records = await waitForTopic(topic, r => quotaOf(r, FEDE) === 123456)
  t.log(`the new quota was on the topic after ${Date.now() - changedAt} ms`)
  t.deepEqual(lastOf(records, FEDE)?.value, { id: FEDE, name: 'fede', email: 'fede@gmail.com', quota: 123456 })

  await db.none('DELETE FROM user_metadata WHERE id = $1', [PACO])
  records = await waitForTopic(topic, r => lastOf(r, PACO)?.value === null)
  t.is(lastOf(records, PACO)?.value, null)

  await db.none("INSERT INTO user_metadata (id, name, email, quota) VALUES ('new-user', 'nuevo', 'nuevo@gmail.com', 7)")
  records = await waitForTopic(topic, r => lastOf(r, 'new-user') !== undefined)
  t.deepEqual(compactedView(records), await tableView(db))
})

test('a restart tombstones the rows deleted while the mirror was stopped', async t => {
  const setup = await provisioned(t)
  const { db, topic } = setup
  const first = await newMirror(t, setup)
  await first.stop()

  await db.none('DELETE FROM user_metadata WHERE id IN ($1, $2)', [FEDE, PACO])
  await newMirror(t, setup)
  const records = await readTopic(topic)
  t.is(lastOf(records, FEDE)?.value, null)
  t.is(lastOf(records, PACO)?.value, null)
  t.deepEqual(compactedView(records), await tableView(db))
  t.is(Object.keys(compactedView(records)).length, 18)
})

test('two snapshots, with changes between them, leave the compacted view equal to the table', async t => {
  const setup = await provisioned(t, 3)
  const { db, topic } = setup
  const first = await newMirror(t, setup, { batchSize: 7 })
  await first.stop()

  await db.none('UPDATE user_metadata SET quota = quota + 1')
  await db.none(
    "INSERT INTO user_metadata (id, name, email, quota) VALUES ('late-user', 'tarde', 'tarde@gmail.com', 1)"
  )
  await newMirror(t, setup, { batchSize: 7 })
  const records = await readTopic(topic)
  t.is(records.length, 41)
  t.deepEqual(compactedView(records), await tableView(db))
})

test('a changed primary key tombstones the old id, and TRUNCATE tombstones every row', async t => {
  const setup = await provisioned(t)
  const { db, topic } = setup
  await newMirror(t, setup)

  await db.none("UPDATE user_metadata SET id = 'renamed' WHERE id = $1", [FEDE])
  let records = await waitForTopic(topic, r => lastOf(r, FEDE)?.value === null && lastOf(r, 'renamed') !== undefined)
  t.deepEqual(compactedView(records), await tableView(db))

  await db.none('TRUNCATE user_metadata')
  records = await waitForTopic(topic, r => Object.keys(compactedView(r)).length === 0)
  t.deepEqual(compactedView(records), {})
})

test('after its PostgreSQL session is killed, the mirror reconnects and catches up, deletes included', async t => {
  const setup = await provisioned(t)
  const { db, topic } = setup
  const lines: string[] = []
  await newMirror(t, setup, {
    log: (_level, message) => {
      lines.push(message)
    }
  })

  // Ends every other session of this database: the mirror's LISTEN and its pool.
  await db.any(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()'
  )
  await db.none('DELETE FROM user_metadata WHERE id = $1', [PACO])
  await db.none('UPDATE user_metadata SET quota = 42 WHERE id = $1', [FEDE])
  const records = await waitForTopic(topic, r => lastOf(r, PACO)?.value === null && quotaOf(r, FEDE) === 42)
  t.deepEqual(compactedView(records), await tableView(db))

  await db.none('UPDATE user_metadata SET quota = 43 WHERE id = $1', [FEDE])
  const later = await waitForTopic(topic, r => quotaOf(r, FEDE) === 43)
  t.deepEqual(compactedView(later), await tableView(db))
  t.true(
    lines.some(line => /lost the PostgreSQL session|does not answer/.test(line)),
    lines.join('\n')
  )
  t.true(lines.filter(line => line.startsWith('snapshot:')).length >= 2, lines.join('\n'))
})

test('a second mirror of the same table stands by and takes over when the first stops', async t => {
  const setup = await provisioned(t)
  const { db, topic } = setup
  const first = await newMirror(t, setup)
  const second = await newMirror(t, setup)
  t.is(first.state, 'active')
  t.is(second.state, 'standby')
  t.is(second.published, 0)

  await first.stop()
  await db.none('UPDATE user_metadata SET quota = 77 WHERE id = $1', [FEDE])
  const records = await waitForTopic(topic, r => quotaOf(r, FEDE) === 77)
  t.is(second.state, 'active')
  t.deepEqual(compactedView(records), await tableView(db))
})

test('an unreachable PostgreSQL or a database without the change trigger fails start with one line', async t => {
  const setup = await provisioned(t)
  const unreachable = await newMirror(
    t,
    { ...setup, url: 'postgres://postgres@127.0.0.1:1/cellstream' },
    { start: false }
  )
  const refused = await t.throwsAsync(unreachable.start(), { instanceOf: UnavailableError })
  t.is(refused.message, 'PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/cellstream: ECONNREFUSED')

  await setup.db.none('DROP TRIGGER user_metadata_notify_update ON user_metadata')
  const untriggered = await newMirror(t, setup, { start: false })
  const missing = await t.throwsAsync(untriggered.start(), { instanceOf: UnavailableError })
  t.regex(missing.message, /no change trigger.*cellstream db migrate/)
})

test('an unreachable Kafka fails start with one line', async t => {
  const { url } = await testDatabase(t)
  const mirror = new MetadataMirror({ databaseUrl: url, brokers: ['127.0.0.1:1'], topic: uniqueName('user-metadata') })
  const error = await t.throwsAsync(mirror.start(), { instanceOf: UnavailableError })
  t.regex(error.message, /^Kafka is not reachable at 127\.0\.0\.1:1: /)
  t.notRegex(error.message, /\n/)
})

test("a quota change reaches the stream processor's global table", async t => {
  const setup = await provisioned(t)
  const { db, topic } = setup
  await newMirror(t, setup)
  const consumer = createConsumer(await kafkaBrokers(), 'mirror-test', uniqueName('unused'))
  const tables = new GlobalTables(
    new Fetcher(consumer, { isolationLevel: READ_UNCOMMITTED }),
    [{ topic, key: stringSerde, value: jsonSerde() }],
    message => {
      t.log(message)
    }
  )
  t.teardown(async () => {
    await tables.stop()
    await consumer.close(true)
  })
  await tables.start()
  const view = tables.view(topic)
  t.deepEqual(view.get(FEDE), { id: FEDE, name: 'fede', email: 'fede@gmail.com', quota: 5000 })

  const changedAt = Date.now()
  await db.none('UPDATE user_metadata SET quota = 6000 WHERE id = $1', [FEDE])
  const seen = await waitFor(
    async () => ((view.get(FEDE) as { quota?: number } | undefined)?.quota === 6000 ? true : undefined),
    { timeoutMs: DEADLINE_MS, intervalMs: 10 }
  )
  t.true(seen)
  t.log(`the processor's table had the new quota after ${Date.now() - changedAt} ms`)
  await db.none('DELETE FROM user_metadata WHERE id = $1', [FEDE])
  t.true(
    await waitFor(async () => (view.get(FEDE) === undefined ? true : undefined), {
      timeoutMs: DEADLINE_MS,
      intervalMs: 10
    })
  )
})

test('a row too large for the topic is reported and skipped, and later changes still flow', async t => {
  const setup = await provisioned(t)
  const warnings: string[] = []
  const mirror = await newMirror(t, setup, {
    log: (level, message) => {
      if (level === 'warn') warnings.push(message)
    }
  })
  await setup.db.none('UPDATE user_metadata SET name = $1 WHERE id = $2', ['n'.repeat(2 << 20), FEDE])
  await setup.db.none('UPDATE user_metadata SET quota = 123 WHERE id = $1', [PACO])
  const records = await waitForTopic(setup.topic, rs =>
    rs.some(r => r.key === PACO && (r.value as { quota: number }).quota === 123)
  )
  t.is((compactedView(records)[FEDE] as { name: string }).name, 'fede', 'the topic keeps the previous value')
  t.is(mirror.skipped, 1)
  t.true(
    warnings.some(w => w.startsWith(`user ${FEDE}: a record of `) && w.includes('skipped')),
    warnings.join('\n')
  )
  await setup.db.none('UPDATE user_metadata SET name = $1 WHERE id = $2', ['fede', FEDE])
  await waitForTopic(
    setup.topic,
    rs => (compactedView(rs)[FEDE] as { name: string }).name === 'fede' && rs.filter(r => r.key === FEDE).length >= 2
  )
})

test("a mirror of another database refuses a topic that holds the first one's users, in one line, whatever process it runs in", async t => {
  const first = await provisioned(t)
  await newMirror(t, first)
  await waitForTopic(first.topic, rs => rs.length === 20)
  const { url } = await testDatabase(t)
  const second = await newMirror(t, { url, topic: first.topic }, { start: false })
  const error = await t.throwsAsync(second.start(), { instanceOf: MirrorConflict })
  t.regex(
    error.message,
    new RegExp(
      `^topic ${first.topic} holds the users of another database \\(.+\\): mirror each database to a topic of its own`
    )
  )
  const cli = await cellstream(['mirror', '--topic', first.topic], {
    KAFKA_BROKERS: (await kafkaBrokers()).join(','),
    DATABASE_URL: url
  })
  t.is(cli.code, 2)
  t.regex(cli.stderr, /^cellstream: topic .* holds the users of another database/m)
  t.is(
    Object.keys(compactedView(await readTopic(first.topic))).length,
    20,
    'no user of the first database was tombstoned'
  )
})
