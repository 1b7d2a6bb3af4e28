import test from 'ava'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { serverUrl, testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, produceRecordFile, testTopics, uniqueName } from '../helpers/kafka.ts'
import { closeDb, openDb, type Db } from '../../src/db/pool.ts'
import { sleep } from '../../src/lib/processes.ts'
import { pipelineArgs, startStream, watchOutage } from '../helpers/stream.ts'

const OUTAGE_MS = 120_000

interface Total {
  timestamp: string
  id: string
  value: number
  type: string
}

/** Refuses new connections to `database` and ends its sessions, or lets them in again; the server itself keeps running. */
async function setReachable(database: string, reachable: boolean): Promise<void> {
  const admin = openDb(serverUrl('postgres'))
  try {
    await admin.none('ALTER DATABASE $1:name ALLOW_CONNECTIONS $2:raw', [database, reachable ? 'true' : 'false'])
    if (!reachable)
      await admin.any(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database]
      )
  } finally {
    await closeDb(admin)
  }
}

async function rows(db: Db): Promise<string[]> {
  return await db.map(
    'SELECT "timestamp", id, value, type FROM bytes',
    [],
    row => `${(row.timestamp as Date).toISOString().replace('.000Z', 'Z')} ${row.type} ${row.id} ${row.value}`
  )
}

test('a PostgreSQL outage of 120 s mid-run is waited out: not ready meanwhile, live throughout, exact tables after, no restart by hand', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  db.$pool.on('error', () => {}) // its sessions are ended on purpose below
  const database = new URL(url).pathname.slice(1)
  t.teardown(() => setReachable(database, true))
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 4 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-outage-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }

  // Two hours of traffic: the first goes in before the outage, the second during it.
  const traffic = ['--seed', 'outage', '--rate', '3', '--bad-ratio', '0.02', '--late-ratio', '0.02', '--provision']
  const first = join(dir, 'first.jsonl')
  const second = join(dir, 'second.jsonl')
  t.is(
    (
      await cellstream(
        ['simulate', ...traffic, '--from', '2021-02-19T20:00', '--to', '2021-02-19T21:00', '--out', first],
        env
      )
    ).code,
    0
  )
  t.is(
    (
      await cellstream(
        ['simulate', ...traffic, '--from', '2021-02-19T21:00', '--to', '2021-02-19T22:00', '--out', second],
        env
      )
    ).code,
    0
  )
  const both = join(dir, 'both.jsonl')
  const firstRecords = await produceRecordFile(input!, first, 4)
  await writeFile(both, Buffer.concat([await readFile(first), await readFile(second)]))
  const truth = JSON.parse(
    (await cellstream(['truth', '--in', both, '--partitions', '4', '--format', 'json'], env)).stdout
  ) as { bytes: Total[] }
  const expected = truth.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort()

  const stream = startStream(
    t,
    pipelineArgs({ input: input!, metadata: metadata!, group, dir, idleTimeout: 3, mirror: true }),
    env
  )
  const base = `http://127.0.0.1:${await stream.port()}`
  const deadline = Date.now() + 60_000
  while ((await rows(db)).length === 0) {
    if (Date.now() > deadline) throw new Error(`no row before the outage: ${stream.log()}`)
    await sleep(500)
  }

  await setReachable(database, false)
  const outageEnds = Date.now() + OUTAGE_MS
  await produceRecordFile(input!, second, 4, firstRecords)
  const seen = await watchOutage(base, outageEnds, () => {
    t.is(stream.child.exitCode, null, 'the stream waits the outage out')
  })
  t.true(seen.ready.has(503), 'not ready during the outage')
  t.true(
    [...seen.reasons].some(reason => /failing for \d+ s, retrying/.test(reason)),
    [...seen.reasons].join('; ')
  )
  t.deepEqual([...seen.live], [200], 'live throughout: nothing should restart it')
  await setReachable(database, true)

  const after = Date.now() + 120_000
  let got: string[] = []
  while (Date.now() < after) {
    got = (await rows(db)).sort()
    if (got.length >= expected.length && (await fetch(`${base}/ready`)).status === 200) break
    await sleep(1000)
  }
  t.deepEqual(got, expected, 'exact tables after the outage')
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.true(Number(/^cellstream_commit_failures_total (\d+)/m.exec(metrics)?.[1]) > 0, 'failing commits are counted')
  stream.child.kill('SIGTERM')
  const [code] = await once(stream.child, 'exit')
  t.is(code, 0, stream.log())
})

test('--give-up-after ends an instance that cannot reach PostgreSQL, in one line with exit code 3', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  db.$pool.on('error', () => {})
  const database = new URL(url).pathname.slice(1)
  t.teardown(() => setReachable(database, true))
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 2 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-give-up-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  t.is(
    (
      await cellstream(
        [
          'simulate',
          '--seed',
          'give-up',
          '--from',
          '2021-02-19T20:00',
          '--to',
          '2021-02-19T20:30',
          '--topic',
          input!,
          '--partitions',
          '2'
        ],
        env
      )
    ).code,
    0
  )
  const stream = startStream(
    t,
    pipelineArgs({ input: input!, metadata: metadata!, group, dir, idleTimeout: 1 }, '--give-up-after', '5'),
    env
  )
  await stream.port()
  await setReachable(database, false)
  const [code] = await once(stream.child, 'exit')
  t.is(code, 3, stream.log())
  t.regex(
    stream.log(),
    /cellstream: stopped after \d+ s of failures \(--give-up-after\): commit: .*not currently accepting connections/
  )
})
