import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { compactedFileName, hourDir, hourLabel, HOUR_SECONDS, VERSIONS_DIR } from '../../src/archive/layout.ts'
import { listHours } from '../../src/archive/versions.ts'
import { testDatabase } from '../helpers/db.ts'
import { cellstream } from '../helpers/cli.ts'
import { queryArchive } from '../helpers/read-archive.ts'
import { archiveFromSimulation } from '../helpers/archive-fixture.ts'
import { BIN, killAfter } from './kill-after.ts'
import { hourlyTables, provisionUsers } from '../helpers/hourly-tables.ts'

const EVENING = Date.parse('2026-11-02T17:00:00Z') / 1000

test('kill -9 at random moments of a compaction, then a rerun: exact tables, every event once', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'crash', users: 1500, lateRatio: 0.02 },
    from: EVENING,
    to: EVENING + 4 * HOUR_SECONDS,
    commit: 2000,
    replayEvery: 4
  })
  const { url, db } = await testDatabase(t)
  await provisionUsers(db, fixture.users)
  const hours = await listHours(fixture.archiveDir)
  const args = [
    'compact',
    '--from',
    hourLabel(hours[0]!),
    '--to',
    hourLabel(hours.at(-1)! + HOUR_SECONDS),
    '--archive-dir',
    fixture.archiveDir,
    '--database-url',
    url
  ]
  // Random moments: startup, merging, the PostgreSQL write, the link switch, cleanup. Each run
  // resumes what the killed ones left.
  let midway = 0
  for (let kill = 0; kill < 6; kill++) {
    const run = await killAfter([BIN, ...args], 500 + Math.random() * 4000)
    if (!run.killed) break
    // Each hour done printed a line.
    const hoursDone = run.stdout.split('\n').filter(line => /^\d{4}-/.test(line)).length
    if (hoursDone > 0 && hoursDone < hours.length) midway++
  }
  t.log(`${midway} kills landed between two hours of the range`)
  const rerun = await cellstream(args)
  t.is(rerun.code, 0, rerun.stderr)

  const tables = await hourlyTables(db)
  t.deepEqual(tables.bytesHourly, fixture.truth.bytesHourly)
  t.deepEqual(tables.userQuotaLimit, fixture.truth.userQuotaLimit)
  for (const hour of hours) t.deepEqual(await readdir(hourDir(fixture.archiveDir, hour)), [compactedFileName(hour)])
  const [counts] = await queryArchive(
    fixture.archiveDir,
    source => `SELECT count(*) AS n, count(DISTINCT (partition, "offset")) AS d FROM ${source}`
  )
  t.deepEqual([Number(counts!.n), Number(counts!.d)], [fixture.rows, fixture.rows])
  const left = (await readdir(join(fixture.archiveDir, VERSIONS_DIR))).filter(
    name => name.endsWith('.new') || name.endsWith('.tmp')
  )
  t.deepEqual(left, [])
})
