// The archive's object store unreachable for 60 s (the server stopped, then started again on
// the same port and folder) while traffic arrives and `compact --watch` runs: the stream is
// not ready meanwhile but live, the watcher reports and goes on, and once the store is back
// the tables are exact and every event is in the compacted hours once. The secret key is in no
// output.
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { hourlyTables } from '../helpers/hourly-tables.ts'
import { cleanUpAfter, kafkaBrokers, produceRecordFile, testTopics, uniqueName } from '../helpers/kafka.ts'
import { hourViews, openS3Archive, queryS3Archive, s3ArchiveUrl } from '../helpers/s3-archive.ts'
import { startS3Server } from '../helpers/s3-server.ts'
import { pipelineArgs, startStream, tableLines, watchOutage } from '../helpers/stream.ts'
import { sleep } from '../../src/lib/processes.ts'
import type { BytesRow, QuotaRow } from '../../src/truth/ground-truth.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))
const OUTAGE_MS = 60_000

test('the object store unreachable for 60 s is waited out by the stream and the compactor: exact tables, every event once', async t => {
  const s3 = await startS3Server(t)
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 4 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-s3-outage-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const archiveUrl = s3ArchiveUrl(t, s3.url('outage'))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url, ...s3.env, ARCHIVE_URL: archiveUrl }

  // Two hours of traffic: the first goes in before the outage, the second during it.
  const traffic = ['--seed', 's3-outage', '--rate', '3', '--late-ratio', '0.02', '--provision']
  const first = join(dir, 'first.jsonl')
  const second = join(dir, 'second.jsonl')
  for (const [from, to, out] of [
    ['2021-02-19T20:00', '2021-02-19T21:00', first],
    ['2021-02-19T21:00', '2021-02-19T22:00', second]
  ] as const)
    t.is((await cellstream(['simulate', ...traffic, '--from', from, '--to', to, '--out', out], env)).code, 0)
  const both = join(dir, 'both.jsonl')
  await writeFile(both, Buffer.concat([await readFile(first), await readFile(second)]))
  const truth = JSON.parse(
    (await cellstream(['truth', '--in', both, '--partitions', '4', '--format', 'json'], env)).stdout
  ) as {
    bytes: Array<{ timestamp: string; id: string; value: number; type: string }>
    bytes_hourly: BytesRow[]
    user_quota_limit: QuotaRow[]
    summary: { valid: number }
  }
  const expected = truth.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort()
  const firstRecords = await produceRecordFile(input!, first, 4)

  const stream = startStream(
    t,
    pipelineArgs({ input: input!, metadata: metadata!, group, dir, archive: false, idleTimeout: 3, mirror: true }),
    env
  )
  // The batch layer beside it, compacting every hour as soon as files land in it.
  const watcher = spawn(process.execPath, [BIN, 'compact', '--watch', '--lateness', '0', '--interval', '2'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => watcher.kill('SIGKILL'))
  let watcherLog = ''
  watcher.stdout.on('data', chunk => (watcherLog += chunk))
  watcher.stderr.on('data', chunk => (watcherLog += chunk))

  const base = `http://127.0.0.1:${await stream.port()}`
  const deadline = Date.now() + 60_000
  while (!/2021-02-19T20: .*rows written/.test(watcherLog)) {
    if (Date.now() > deadline) throw new Error(`nothing compacted before the outage: ${watcherLog}\n${stream.log()}`)
    await sleep(500)
  }

  await s3.stop()
  const outageEnds = Date.now() + OUTAGE_MS
  await produceRecordFile(input!, second, 4, firstRecords)
  const seen = await watchOutage(base, outageEnds, () => {
    t.is(stream.child.exitCode, null, 'the stream waits the outage out')
    t.is(watcher.exitCode, null, 'the watcher waits the outage out')
  })
  t.true(seen.ready.has(503), 'not ready during the outage')
  t.true(
    [...seen.reasons].some(reason => /failing for \d+ s, retrying: .*object storage/.test(reason)),
    [...seen.reasons].join('; ')
  )
  t.deepEqual([...seen.live], [200], 'live throughout: nothing should restart it')
  t.regex(watcherLog, /compacting failed, tried again in 2 s: object storage/)
  await s3.start()

  const after = Date.now() + 180_000
  let got: string[] = []
  while (Date.now() < after) {
    got = await tableLines(db, 'bytes')
    if (got.join() === expected.join() && (await fetch(`${base}/ready`)).status === 200) break
    await sleep(1000)
  }
  t.deepEqual(got, expected, 'exact bytes after the outage')
  stream.child.kill('SIGTERM')
  const [code] = await once(stream.child, 'exit')
  t.is(code, 0, stream.log())

  // The watcher compacts what arrived until each hour is its one compacted file.
  const archive = openS3Archive(t, archiveUrl, s3.env)
  const compactedBy = Date.now() + 120_000
  for (;;) {
    const views = [...(await hourViews(archive)).values()]
    if (views.every(v => v.files.length === 1 && v.files[0] === v.manifest?.compacted)) break
    if (Date.now() > compactedBy) throw new Error(`hours left uncompacted: ${watcherLog}`)
    await sleep(1000)
  }
  // The watcher writes an hour's tables before it switches the hour: they are final now.
  watcher.kill('SIGTERM')
  await once(watcher, 'exit')
  const tables = await hourlyTables(db)
  t.deepEqual(tables.bytesHourly.map(bytesLine).sort(), truth.bytes_hourly.map(bytesLine).sort())
  t.deepEqual(tables.userQuotaLimit.map(quotaLine).sort(), truth.user_quota_limit.map(quotaLine).sort())
  const counts = await queryS3Archive(
    archive,
    source => `SELECT count(*) AS n, count(DISTINCT (topic, "partition", "offset")) AS events FROM ${source}`
  )
  t.deepEqual(counts, { n: truth.summary.valid, events: truth.summary.valid })
  for (const output of [stream.log(), watcherLog])
    t.false(output.includes(s3.secret), 'the secret key is never printed')
})

const bytesLine = (r: BytesRow): string => `${r.timestamp} ${r.type} ${r.id} ${Number(r.value)}`
const quotaLine = (r: QuotaRow): string => `${r.timestamp} ${r.email} ${Number(r.usage)} ${Number(r.quota)}`
