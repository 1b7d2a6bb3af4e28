// Kill -9 with the archive on a local S3-compatible server: stream instances killed while they
// upload their files, then the compactor killed at random moments (downloads, merge, the
// PostgreSQL write, its upload, the manifest switch, the sweep); the tables end exact against
// the ground truth, and every event is in the compacted hours once.
import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { hourlyTables } from '../helpers/hourly-tables.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'
import { hourViews, openS3Archive, queryS3Archive, s3ArchiveUrl } from '../helpers/s3-archive.ts'
import { startS3Server } from '../helpers/s3-server.ts'
import { LOCK_FILE } from '../../src/compactor/lock.ts'
import { s3WorkDir } from '../../src/compactor/s3-compact.ts'
import { pipelineArgs, tableLines } from '../helpers/stream.ts'
import { sleep } from '../../src/lib/processes.ts'
import type { BytesRow, QuotaRow } from '../../src/truth/ground-truth.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

test('stream instances and the compactor killed with -9 mid-upload to S3: exact tables, every event once', async t => {
  const s3 = await startS3Server(t)
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 6 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-s3-crash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const archiveUrl = s3ArchiveUrl(t, s3.url('crash'))
  const env = {
    ...process.env,
    KAFKA_BROKERS: brokers.join(','),
    DATABASE_URL: url,
    ...s3.env,
    ARCHIVE_URL: archiveUrl
  }
  const traffic = ['--seed', 's3-crash', '--from', '2021-02-19T20:00', '--to', '2021-02-19T23:00']
  const more = ['--users', '200', '--rate', '20', '--late-ratio', '0.01', '--bad-ratio', '0.01']
  const file = join(dir, 'records.jsonl')
  t.is((await cellstream(['simulate', ...traffic, ...more, '--out', file], env)).code, 0)
  const truth = await cellstream(
    ['truth', '--in', file, '--partitions', '6', '--users', '200', '--format', 'json'],
    env
  )
  const expected = JSON.parse(truth.stdout) as {
    bytes: Array<{ timestamp: string; id: string; value: number; type: string }>
    bytes_hourly: BytesRow[]
    user_quota_limit: QuotaRow[]
    summary: { valid: number }
  }
  const expectedBytes = expected.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort()

  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const logOf = (name: string): string => join(dir, `${name}.log`)
  const launch = (name: string): ChildProcess => {
    const fd = openSync(logOf(name), 'a')
    try {
      return spawn(
        process.execPath,
        [
          BIN,
          'stream',
          ...pipelineArgs(
            {
              input: input!,
              metadata: metadata!,
              group,
              dir,
              stateDir: join(dir, name),
              archive: false,
              idleTimeout: 3
            },
            '--commit-interval',
            '300'
          )
        ],
        { env, stdio: ['ignore', fd, fd] }
      )
    } finally {
      closeSync(fd)
    }
  }
  const instances = new Map(['a', 'b', 'c'].map(name => [name, launch(name)]))
  t.teardown(() => {
    for (const child of instances.values()) child.kill('SIGKILL')
  })
  // The same records as the file, sent over about 20 seconds while instances die: every
  // instance uploads a file per partition and hour at each commit, so a kill lands mid-upload.
  const producer = spawn(
    process.execPath,
    [BIN, 'simulate', ...traffic, ...more, '--speed', '540', '--topic', input!, '--provision'],
    {
      env,
      stdio: 'ignore'
    }
  )
  for (const victim of ['b', 'a', 'c', 'b']) {
    await sleep(3000)
    instances.get(victim)!.kill('SIGKILL')
    await once(instances.get(victim)!, 'exit')
    instances.set(victim, launch(victim))
  }
  const [produced] = await once(producer, 'exit')
  t.is(produced, 0)

  const deadline = Date.now() + 240_000
  let rows: string[] = []
  while (Date.now() < deadline) {
    rows = await tableLines(db, 'bytes')
    if (rows.join() === expectedBytes.join()) break
    await sleep(1000)
  }
  if (!t.deepEqual(rows, expectedBytes, 'the speed layer: bytes as the truth has them')) {
    for (const name of instances.keys())
      t.log(`instance ${name}:\n${(await readFile(logOf(name), 'utf8')).split('\n').slice(-40).join('\n')}`)
  }
  // Stopped cleanly: each instance commits what it holds.
  for (const child of instances.values()) child.kill('SIGTERM')
  await Promise.all([...instances.values()].map(child => (child.exitCode === null ? once(child, 'exit') : null)))

  const range = ['compact', '--from', '2021-02-19T19:00', '--to', '2021-02-19T23:00']
  // The compactor's lock is in its work folder, named after the archive's URL: kills are timed
  // from the moment it holds the lock, so they land in the work (downloads, merges, uploads,
  // switches, sweeps), not in the startup.
  const lock = join(s3WorkDir(openS3Archive(t, archiveUrl, s3.env).url), LOCK_FILE)
  let killed = 0
  // The first kills come soonest: once a run has finished the hours, the later ones have little
  // left to do and end quickly, however loaded the machine.
  for (const ms of [0, 100, 250, 500, 750, 1000, 1250, 1500]) if (await runKilledAfter(range, env, ms, lock)) killed++
  t.log(`${killed} compactor runs killed while working`)
  t.true(killed > 0)
  const rerun = await cellstream(range, env)
  t.is(rerun.code, 0, rerun.stderr)

  const tables = await hourlyTables(db)
  t.deepEqual(tables.bytesHourly.map(bytesLine).sort(), expected.bytes_hourly.map(bytesLine).sort())
  t.deepEqual(tables.userQuotaLimit.map(quotaLine).sort(), expected.user_quota_limit.map(quotaLine).sort())
  const archive = openS3Archive(t, archiveUrl, s3.env)
  for (const [label, view] of await hourViews(archive))
    t.deepEqual(view.files, [`v=${view.manifest!.version}/compacted-${label}.parquet`], label)
  const counts = await queryS3Archive(
    archive,
    source => `SELECT count(*) AS n, count(DISTINCT (topic, "partition", "offset")) AS events FROM ${source}`
  )
  t.deepEqual(counts, { n: expected.summary.valid, events: expected.summary.valid })
})

/**
 * Runs `cellstream …args` and kills it with -9 `ms` after it took the compactor lock (its pid
 * in `lock`); whether it was still running then.
 */
async function runKilledAfter(args: string[], env: NodeJS.ProcessEnv, ms: number, lock: string): Promise<boolean> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: 'ignore' })
  let timer: NodeJS.Timeout | undefined
  const poll = setInterval(() => {
    if (timer !== undefined || lockHolder(lock) !== String(child.pid)) return
    timer = setTimeout(() => child.kill('SIGKILL'), ms)
  }, 5)
  const [, signal] = (await once(child, 'exit')) as [number | null, string | null]
  clearInterval(poll)
  clearTimeout(timer)
  return signal === 'SIGKILL'
}

function lockHolder(lock: string): string | undefined {
  try {
    return readFileSync(lock, 'utf8').trim()
  } catch {
    return undefined
  }
}

const bytesLine = (r: BytesRow): string => `${r.timestamp} ${r.type} ${r.id} ${Number(r.value)}`
const quotaLine = (r: QuotaRow): string => `${r.timestamp} ${r.email} ${Number(r.usage)} ${Number(r.quota)}`
