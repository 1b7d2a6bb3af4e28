import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'
import { sleep } from '../../src/lib/processes.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { pipelineArgs, tableLines } from '../helpers/stream.ts'
import type { Db } from '../../src/db/pool.ts'
import { DuckDBInstance } from '@duckdb/node-api'
import { Producer } from '@platformatic/kafka'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

interface Quota {
  email: string
  usage: number
  quota: number
  timestamp: string
}

interface Total {
  timestamp: string
  id: string
  value: number
  type: string
}

test('a seeded backfill through `stream` fills `bytes` exactly as `truth` computes it, and again after `reset`', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 6 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-stream-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const traffic = [
    '--seed',
    'stream-test',
    '--from',
    '2021-02-19T20:00',
    '--to',
    '2021-02-19T23:00',
    '--bad-ratio',
    '0.02',
    '--late-ratio',
    '0.02',
    '--rate',
    '5'
  ]
  const file = join(dir, 'records.jsonl')
  t.is((await cellstream(['simulate', ...traffic, '--out', file], env)).code, 0)
  t.is((await cellstream(['simulate', ...traffic, '--topic', input!, '--provision'], env)).code, 0)

  const truth = await cellstream(['truth', '--in', file, '--partitions', '6', '--format', 'json'], env)
  const expected = JSON.parse(truth.stdout) as {
    bytes: Total[]
    bytes_hourly: Total[]
    user_quota_limit: Quota[]
    quota_alerts: Quota[]
    summary: { records: number; valid: number; late: number; invalid: number }
  }
  t.true(expected.summary.late > 0 && expected.summary.invalid > 0, 'the input has late and bad records')

  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const line = (r: Total): string => `${r.timestamp} ${r.type} ${r.id} ${r.value}`
  const expectedLines = expected.bytes.map(line).sort()

  const run = {
    t,
    db,
    env,
    args: pipelineArgs({ input: input!, metadata: metadata!, group, dir, idleTimeout: 3, mirror: true })
  }
  const first = await runUntil(run, expected.bytes.length)
  t.deepEqual(first.rows.map(line).sort(), expectedLines, first.log)
  t.is(first.code, 0, first.log)
  t.deepEqual(first.health, { live: 200, ready: 200 })
  t.is(metric(first.metrics, 'cellstream_records_in_total'), expected.summary.records)
  t.is(
    metric(first.metrics, 'cellstream_dead_letters_total'),
    expected.summary.invalid,
    'every bad record is a dead letter'
  )
  t.is(metric(first.metrics, 'cellstream_late_events_total{aggregation="user-bytes"}'), expected.summary.late)

  // The archive holds every valid record (late ones too) at least once, in its event hour's folder.
  const archive = await queryArchive(
    join(dir, 'archive'),
    `SELECT count(DISTINCT (topic, "partition", "offset")) AS events,
      count(*) FILTER (WHERE make_timestamp((year::BIGINT), month::BIGINT, day::BIGINT, hour::BIGINT, 0, 0) <> date_trunc('hour', to_timestamp("timestamp") AT TIME ZONE 'UTC')) AS misplaced,
      count(*) FILTER (WHERE email IS NULL) AS unknown
    FROM read_parquet('ARCHIVE/year=*/month=*/day=*/hour=*/*.parquet', hive_partitioning = true)`
  )
  t.deepEqual(archive, { events: expected.summary.valid, misplaced: 0, unknown: 0 })

  // Live alerts: each user over quota in an hour (counting that hour's events not late for it),
  // once, with the hour's total now that every hour has closed.
  const quotaLine = (r: Quota): string => `${r.timestamp} ${r.email} ${r.usage} ${r.quota}`
  t.true(expected.quota_alerts.length > 0, 'the input has users over quota')
  t.deepEqual(await tableLines(db, 'quota_alerts'), expected.quota_alerts.map(quotaLine).sort())
  t.is(
    metric(first.metrics, 'cellstream_watch_emitted_total{watch="quota-alerts"}'),
    expected.quota_alerts.length,
    'the metric counts each live alert once'
  )

  // The batch layer over the archive the speed layer wrote: hourly tables as the truth has them
  // (late events of the first hour belong to the hour before it).
  const compact = await cellstream(
    ['compact', '--from', '2021-02-19T19:00', '--to', '2021-02-19T23:00', '--archive-dir', join(dir, 'archive')],
    env
  )
  t.is(compact.code, 0, compact.stderr)
  const hourly = await db.map('SELECT "timestamp", id, value, type FROM bytes_hourly', [], row =>
    line({
      timestamp: (row.timestamp as Date).toISOString().replace('.000Z', 'Z'),
      id: row.id,
      value: row.value,
      type: row.type
    })
  )
  t.deepEqual(hourly.sort(), expected.bytes_hourly.map(line).sort())
  const limits = await db.map(
    'SELECT email, usage, quota, "timestamp" FROM user_quota_limit',
    [],
    row => `${row.email} ${row.usage} ${row.quota} ${(row.timestamp as Date).toISOString().replace('.000Z', 'Z')}`
  )
  t.deepEqual(
    limits.sort(),
    expected.user_quota_limit.map(r => `${r.email} ${r.usage} ${r.quota} ${r.timestamp}`).sort()
  )

  // Replay: reset the group, empty the table, run again: the same rows, once each.
  // The internal topics as documented: two of the application's own, three per aggregation (three
  // totals and the hourly usage). The alerts topic is an output and stays.
  const internal = [
    `${group}-source-times`,
    `${group}-instances`,
    ...['antenna-bytes', 'user-bytes', 'app-bytes', 'user-hour-usage'].flatMap(a =>
      ['partials', 'windows-changelog', 'sources-changelog'].map(kind => `${group}-${a}-${kind}`)
    )
  ]
  t.deepEqual(await groupTopics(group), [...internal, `${group}-alerts`].sort())
  const reset = await cellstream(['reset', '--group', group, '--state-dir', join(dir, 'state')], env)
  t.is(reset.code, 0, reset.stderr)
  t.is(
    reset.stdout,
    `reset ${group}: offsets deleted, ${internal.length} internal topics deleted, local state in ${join(dir, 'state')} removed\n`
  )
  t.deepEqual(await groupTopics(group), [`${group}-alerts`])
  await db.none('TRUNCATE bytes')
  const second = await runUntil(run, expected.bytes.length)
  t.deepEqual(second.rows.map(line).sort(), expectedLines, second.log)
  t.is(await db.one('SELECT count(*) AS n FROM bytes', [], row => row.n as number), expected.bytes.length)
})

/** The broker's topics named after the group, sorted. */
async function groupTopics(group: string): Promise<string[]> {
  const topics = await withAdmin(await kafkaBrokers(), admin => admin.listTopics())
  return topics.filter(topic => topic.startsWith(`${group}-`)).sort()
}

/** The sum of a Prometheus metric's samples whose line starts with `prefix`. */
function metric(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter(l => l.startsWith(prefix) && !l.startsWith('#'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

async function queryArchive(dir: string, sql: string): Promise<Record<string, number>> {
  const instance = await DuckDBInstance.create()
  const connection = await instance.connect()
  try {
    const reader = await connection.runAndReadAll(sql.replace('ARCHIVE', dir))
    const [row] = reader.getRowObjectsJS()
    return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]))
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

/** Runs `stream` until `bytes` holds `count` rows, then stops it with SIGTERM. */
async function runUntil(
  { t, db, env, args }: { t: ExecutionContext; db: Db; env: NodeJS.ProcessEnv; args: string[] },
  count: number
): Promise<{ rows: Total[]; code: number; log: string; metrics: string; health: { live: number; ready: number } }> {
  const stream = spawn(process.execPath, [BIN, 'stream', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let log = ''
  stream.stderr.on('data', chunk => {
    log += chunk
  })
  t.teardown(() => stream.kill('SIGKILL'))
  const deadline = Date.now() + 120_000
  let rows: Total[] = []
  while (Date.now() < deadline) {
    rows = await db.map('SELECT "timestamp", id, value, type FROM bytes', [], row => ({
      timestamp: (row.timestamp as Date).toISOString().replace('.000Z', 'Z'),
      id: row.id,
      value: row.value,
      type: row.type
    }))
    if (rows.length >= count) break
    await sleep(500)
  }
  const port = /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log)?.[1]
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const health = {
    live: (await fetch(`http://127.0.0.1:${port}/health`)).status,
    ready: (await fetch(`http://127.0.0.1:${port}/ready`)).status
  }
  stream.kill('SIGTERM')
  const [code] = await once(stream, 'exit')
  return { rows, code, log, metrics, health }
}

test('records of an independent producer (null keys, any JSON layout) are processed the same way', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 4 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-stream-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const antennas = ['00000000-0000-0000-0000-000000000000', '11111111-1111-1111-1111-111111111111']
  const users = [
    '00000000-0000-0000-0000-000000000001',
    '00000000-0000-0000-0000-000000000002',
    '00000000-0000-0000-0000-000000000003'
  ]
  const apps = ['SKYPE', 'WHATSAPP', 'TELEGRAM']
  const expected = new Map<string, number>()
  const messages = []
  for (let i = 0; i < 2400; i++) {
    const event = {
      timestamp: 1613768400 + i,
      app: apps[i % 3]!,
      antenna_id: antennas[i % 2]!,
      bytes: (i * 37) % 1000,
      id: users[(i >> 2) % 3]!
    }
    const start = new Date((event.timestamp - (event.timestamp % 300)) * 1000).toISOString().replace('.000Z', 'Z')
    for (const [type, id] of [
      ['antenna_total_bytes', event.antenna_id],
      ['user_total_bytes', event.id],
      ['app_total_bytes', event.app]
    ]) {
      expected.set(`${start} ${type} ${id}`, (expected.get(`${start} ${type} ${id}`) ?? 0) + event.bytes)
    }
    // Field order and whitespace vary, as any JSON producer may write them.
    messages.push({
      topic: input!,
      value: Buffer.from(i % 2 === 0 ? JSON.stringify(event, null, 2) : ` ${JSON.stringify(event)}\n`)
    })
  }
  const producer = new Producer({ clientId: 'independent', bootstrapBrokers: brokers, idempotent: true })
  await producer.send({ messages })
  await producer.close()

  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const args = pipelineArgs({ input: input!, metadata: metadata!, group, dir, idleTimeout: 3 })
  const { rows, code, log } = await runUntil({ t, db, env, args }, expected.size)
  t.is(code, 0, log)
  t.deepEqual(
    rows.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort(),
    [...expected].map(([k, v]) => `${k} ${v}`).sort()
  )
})
