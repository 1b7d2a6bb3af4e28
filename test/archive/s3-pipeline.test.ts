// The speed and batch layers with the archive on a local S3-compatible server: exact against
// the ground truth, every event once after compaction, and the credentials never printed.
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { hourlyTables } from '../helpers/hourly-tables.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'
import { hourViews, openS3Archive, queryS3Archive, s3ArchiveUrl } from '../helpers/s3-archive.ts'
import { startS3Server } from '../helpers/s3-server.ts'
import { pipelineArgs, tableLines } from '../helpers/stream.ts'
import { sleep } from '../../src/lib/processes.ts'
import type { BytesRow, QuotaRow } from '../../src/truth/ground-truth.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

test('stream and compact with --archive-url s3://…: bytes and the hourly tables exactly as `truth` computes them, every event once', async t => {
  const s3 = await startS3Server(t)
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 4 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-s3-pipeline-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const archiveUrl = s3ArchiveUrl(t, s3.url('archive/one'))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url, ...s3.env, ARCHIVE_URL: archiveUrl }
  const traffic = ['--seed', 's3-test', '--from', '2021-02-19T20:00', '--to', '2021-02-19T22:00']
  const more = ['--users', '200', '--rate', '5', '--bad-ratio', '0.02', '--late-ratio', '0.02']
  const file = join(dir, 'records.jsonl')
  t.is((await cellstream(['simulate', ...traffic, ...more, '--out', file], env)).code, 0)
  t.is((await cellstream(['simulate', ...traffic, ...more, '--topic', input!, '--provision'], env)).code, 0)
  const truth = await cellstream(
    ['truth', '--in', file, '--partitions', '4', '--users', '200', '--format', 'json'],
    env
  )
  const expected = JSON.parse(truth.stdout) as {
    bytes: Array<{ timestamp: string; id: string; value: number; type: string }>
    bytes_hourly: BytesRow[]
    user_quota_limit: QuotaRow[]
    summary: { valid: number; late: number }
  }
  t.true(expected.summary.late > 0, 'the input has late records')

  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const stream = spawn(
    process.execPath,
    [
      BIN,
      'stream',
      ...pipelineArgs({ input: input!, metadata: metadata!, group, dir, archive: false, idleTimeout: 3, mirror: true })
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }
  )
  t.teardown(() => stream.kill('SIGKILL'))
  let log = ''
  stream.stdout.on('data', chunk => (log += chunk))
  stream.stderr.on('data', chunk => (log += chunk))
  const expectedBytes = expected.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort()
  const deadline = Date.now() + 180_000
  let rows: string[] = []
  while (Date.now() < deadline && stream.exitCode === null) {
    rows = await tableLines(db, 'bytes')
    if (rows.length >= expectedBytes.length) break
    await sleep(500)
  }
  stream.kill('SIGTERM')
  const [code] = await once(stream, 'exit')
  t.is(code, 0, log)
  t.deepEqual(rows, expectedBytes, 'the speed layer: bytes as the truth has them')

  // The archive holds every valid event (late ones too) at least once, each in its event hour.
  const archive = openS3Archive(t, archiveUrl, s3.env)
  const written = await queryS3Archive(
    archive,
    source => `SELECT count(DISTINCT (topic, "partition", "offset")) AS events,
      count(*) FILTER (WHERE hour_start <> "timestamp" // 3600 * 3600) AS misplaced FROM ${source}`
  )
  t.deepEqual(written, { events: expected.summary.valid, misplaced: 0 })

  // The batch layer reads and writes the same store (ARCHIVE_URL from the environment).
  const compact = await cellstream(['compact', '--from', '2021-02-19T19:00', '--to', '2021-02-19T22:00'], env)
  t.is(compact.code, 0, compact.stderr)
  const tables = await hourlyTables(db)
  t.deepEqual(
    tables.bytesHourly.map(bytesLine).sort(),
    expected.bytes_hourly.map(bytesLine).sort(),
    'the batch layer: bytes_hourly as the truth has it'
  )
  t.deepEqual(tables.userQuotaLimit.map(quotaLine).sort(), expected.user_quota_limit.map(quotaLine).sort())

  // Each hour is its one compacted file, named by its manifest, and holds each event once.
  for (const [label, view] of await hourViews(archive)) {
    t.deepEqual(view.files, [`v=${view.manifest!.version}/compacted-${label}.parquet`], label)
    t.deepEqual(view.manifest!.replaced, [], `${label}: the replaced files were swept`)
  }
  const compacted = await queryS3Archive(
    archive,
    source => `SELECT count(*) AS n, count(DISTINCT (topic, "partition", "offset")) AS events FROM ${source}`
  )
  t.deepEqual(compacted, { n: expected.summary.valid, events: expected.summary.valid })

  // A second run finds nothing to merge and leaves the tables as they are.
  const again = await cellstream(['compact', '--from', '2021-02-19T19:00', '--to', '2021-02-19T22:00'], env)
  t.is(again.code, 0, again.stderr)
  t.regex(again.stdout, /already one compacted file/)
  t.deepEqual(await hourlyTables(db), tables)

  for (const output of [log, truth.stderr, compact.stdout, compact.stderr, again.stdout, again.stderr])
    t.false(output.includes(s3.secret), 'the secret key is never printed')
})

const bytesLine = (r: BytesRow): string => `${r.timestamp} ${r.type} ${r.id} ${Number(r.value)}`
const quotaLine = (r: QuotaRow): string => `${r.timestamp} ${r.email} ${Number(r.usage)} ${Number(r.quota)}`
