import { createHash } from 'node:crypto'
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { compactHours } from '../../src/compactor/run.ts'
import { dueHours } from '../../src/compactor/watch.ts'
import { compactedFileName, hourDir, HOUR_SECONDS, VERSIONS_DIR } from '../../src/archive/layout.ts'
import { listHours } from '../../src/archive/versions.ts'
import { ArchiveBatch, type ArchiveRow } from '../../src/archive/batch.ts'
import { ParquetArchive } from '../../src/archive/parquet-archive.ts'
import { DataError } from '../../src/lib/errors.ts'
import { testDatabase } from '../helpers/db.ts'
import { queryArchive } from '../helpers/read-archive.ts'
import { archiveFromSimulation } from '../helpers/archive-fixture.ts'
import { hourlyTables, provisionUsers } from '../helpers/hourly-tables.ts'

const EVENING = Date.parse('2026-11-02T18:00:00Z') / 1000

async function archiveSummary(archiveDir: string): Promise<{ rows: number; distinct: number; unsorted: number }> {
  const [r] = await queryArchive(
    archiveDir,
    source => `
    SELECT count(*) AS n, count(DISTINCT (topic, partition, "offset")) AS d,
      sum(CASE WHEN k < prev THEN 1 ELSE 0 END) AS unsorted
    FROM (SELECT topic, partition, "offset", topic || chr(1) || printf('%010d/%020d', partition, "offset") AS k, filename,
      lag(topic || chr(1) || printf('%010d/%020d', partition, "offset")) OVER (PARTITION BY filename ORDER BY file_row_number) AS prev
      FROM read_parquet(${source.replace(/^read_parquet\(/, '').replace(/\)$/, '')}, file_row_number = true))`
  )
  return { rows: Number(r!.n), distinct: Number(r!.d), unsorted: Number(r!.unsorted ?? 0) }
}

async function fileHashes(archiveDir: string, hours: number[]): Promise<string[]> {
  return Promise.all(
    hours.map(async hour => {
      const file = join(hourDir(archiveDir, hour), compactedFileName(hour))
      return createHash('sha256')
        .update(await readFile(file))
        .digest('hex')
    })
  )
}

test('a range with late events and replayed commits compacts to the ground truth, and a rerun changes nothing', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'compact-range', users: 300, lateRatio: 0.03, badRatio: 0.01 },
    from: EVENING,
    to: EVENING + 3 * HOUR_SECONDS,
    replayEvery: 5
  })
  const { url, db } = await testDatabase(t)
  await provisionUsers(db, fixture.users)
  const hours = await listHours(fixture.archiveDir)
  t.true(hours.length >= 4, 'late events reach the hour before the range')
  const before = await archiveSummary(fixture.archiveDir)
  t.true(before.rows > before.distinct, 'the replays wrote duplicates')
  t.is(before.distinct, fixture.rows)

  const outcomes = await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours })
  t.true(outcomes.every(o => o.ok && o.result.status === 'compacted'))
  const duplicates = outcomes.reduce((sum, o) => sum + (o.ok ? o.result.duplicates : 0), 0)
  t.is(duplicates, before.rows - before.distinct)

  const tables = await hourlyTables(db)
  t.deepEqual(tables.bytesHourly, fixture.truth.bytesHourly)
  t.deepEqual(tables.userQuotaLimit, fixture.truth.userQuotaLimit)
  t.true(tables.userQuotaLimit.length > 0, 'some users go over quota in the evening')
  for (const hour of hours) t.deepEqual(await readdir(hourDir(fixture.archiveDir, hour)), [compactedFileName(hour)])
  t.deepEqual(await archiveSummary(fixture.archiveDir), { rows: fixture.rows, distinct: fixture.rows, unsorted: 0 })
  const versions = await readdir(join(fixture.archiveDir, VERSIONS_DIR))
  t.is(
    versions.filter(name => !name.endsWith('.inputs.json')).length,
    hours.length,
    'one version folder per hour remains'
  )

  const hashes = await fileHashes(fixture.archiveDir, hours)
  const again = await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours })
  t.true(again.every(o => o.ok && o.result.status === 'unchanged'))
  t.deepEqual(await hourlyTables(db), tables)
  t.deepEqual(await fileHashes(fixture.archiveDir, hours), hashes)
})

test('an archive whose files were all written twice compacts to one row per event', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'twice', users: 50 },
    from: EVENING,
    to: EVENING + 1800,
    commit: 200
  })
  const [hour] = await listHours(fixture.archiveDir)
  const dir = hourDir(fixture.archiveDir, hour!)
  for (const name of await readdir(dir)) {
    // As after a crash: the same records again, in a file whose range was cut elsewhere.
    const [, topic, partition, first, last] = /^part-(.+)-(\d+)-(\d+)-(\d+)\.parquet$/.exec(name)!
    await copyFile(join(dir, name), join(dir, `part-${topic}-${partition}-${first}-${BigInt(last!) + 1n}.parquet`))
  }
  const { url, db } = await testDatabase(t)
  await provisionUsers(db, fixture.users)
  const outcome = (await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours: [hour!] }))[0]!
  t.true(outcome.ok)
  if (!outcome.ok) return
  t.is(outcome.result.rowsRead, 2 * fixture.rows)
  t.is(outcome.result.rowsWritten, fixture.rows)
  t.is(outcome.result.duplicates, fixture.rows)
  t.deepEqual(await archiveSummary(fixture.archiveDir), { rows: fixture.rows, distinct: fixture.rows, unsorted: 0 })
  t.deepEqual((await hourlyTables(db)).bytesHourly, fixture.truth.bytesHourly)
})

test('late files after a compaction make the hour due again, and the second compaction counts them once', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'late-files', users: 60 },
    from: EVENING,
    to: EVENING + HOUR_SECONDS,
    partitions: 2
  })
  const { url, db } = await testDatabase(t)
  await provisionUsers(db, fixture.users)
  const [hour] = await listHours(fixture.archiveDir)
  t.deepEqual(await dueHours(fixture.archiveDir, hour! + HOUR_SECONDS), [hour!])
  t.deepEqual(await dueHours(fixture.archiveDir, hour! + HOUR_SECONDS - 1), [], 'an hour is due only once closed')
  await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours: [hour!] })
  t.deepEqual(await dueHours(fixture.archiveDir, hour! + HOUR_SECONDS), [])

  // Late records of another topic, and a replay of records already compacted.
  const [existing] = await queryArchive(
    fixture.archiveDir,
    source => `SELECT * EXCLUDE (filename, year, month, day, hour) FROM ${source} LIMIT 1`
  )
  const replayed = {
    ...existing,
    bytes: Number(existing!.bytes),
    timestamp: Number(existing!.timestamp),
    quota: existing!.quota === null ? null : Number(existing!.quota),
    offset: Number(existing!.offset)
  } as ArchiveRow
  const late = { ...replayed, topic: 'devices-late', partition: 0, offset: 0, bytes: 1234 }
  const writer = new ParquetArchive(fixture.archiveDir)
  await writer.write(ArchiveBatch.of([replayed, late]))
  await writer.close()
  t.deepEqual(await dueHours(fixture.archiveDir, hour! + HOUR_SECONDS), [hour!])
  const outcome = (await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours: [hour!] }))[0]!
  t.true(
    outcome.ok &&
      outcome.result.status === 'compacted' &&
      outcome.result.duplicates === 1 &&
      outcome.result.rowsWritten === fixture.rows + 1
  )
  const expected = fixture.truth.bytesHourly.map(row => {
    const touched =
      (row.type === 'antenna_total_bytes' && row.id === late.antenna_id) ||
      (row.type === 'user_total_bytes' && row.id === late.id) ||
      (row.type === 'app_total_bytes' && row.id === late.app)
    return touched ? { ...row, value: row.value + 1234 } : row
  })
  t.deepEqual((await hourlyTables(db)).bytesHourly, expected)
  t.deepEqual(await archiveSummary(fixture.archiveDir), {
    rows: fixture.rows + 1,
    distinct: fixture.rows + 1,
    unsorted: 0
  })
})

test('an hour without data says so and writes nothing', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'empty', users: 20 },
    from: EVENING,
    to: EVENING + 600
  })
  const { url, db } = await testDatabase(t)
  const outcome = (
    await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours: [EVENING - 5 * HOUR_SECONDS] })
  )[0]!
  t.true(outcome.ok && outcome.result.status === 'empty')
  t.deepEqual(await hourlyTables(db), { bytesHourly: [], userQuotaLimit: [] })
})

test('a corrupt file is named, and the hour and the tables are left as they were', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'corrupt', users: 20 },
    from: EVENING,
    to: EVENING + 1200,
    commit: 100
  })
  const { url, db } = await testDatabase(t)
  const [hour] = await listHours(fixture.archiveDir)
  const dir = hourDir(fixture.archiveDir, hour!)
  const names = (await readdir(dir)).sort()
  const broken = join(dir, names[1]!)
  await writeFile(broken, 'PAR1 not really a parquet file')
  const outcome = (await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours: [hour!] }))[0]!
  t.false(outcome.ok)
  if (outcome.ok) return
  t.true(outcome.error instanceof DataError)
  t.regex(outcome.error.message, /left as it was/)
  t.true(outcome.error.message.includes(names[1]!), outcome.error.message)
  t.deepEqual((await readdir(dir)).sort(), names)
  t.deepEqual((await readdir(join(fixture.archiveDir, VERSIONS_DIR))).filter(n => !n.endsWith('.tmp')).length, 1)
  t.deepEqual(await hourlyTables(db), { bytesHourly: [], userQuotaLimit: [] })
})

test('an hour whose version folder is missing is reported, not compacted', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'missing', users: 20 },
    from: EVENING,
    to: EVENING + 600
  })
  const { url } = await testDatabase(t)
  const [hour] = await listHours(fixture.archiveDir)
  const { rm } = await import('node:fs/promises')
  await rm(join(fixture.archiveDir, VERSIONS_DIR), { recursive: true })
  const outcome = (await compactHours({ archiveDir: fixture.archiveDir, databaseUrl: url, hours: [hour!] }))[0]!
  t.false(outcome.ok)
  if (!outcome.ok) t.regex(outcome.error.message, /is missing/)
})
