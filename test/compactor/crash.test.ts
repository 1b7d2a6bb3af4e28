import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { compactedFileName, hourDir, hourLabel, HOUR_SECONDS, VERSIONS_DIR } from '../../src/archive/layout.ts'
import { listHours } from '../../src/archive/versions.ts'
import { testDatabase } from '../helpers/db.ts'
import { cellstream } from '../helpers/cli.ts'
import { queryArchive } from '../helpers/read-archive.ts'
import { archiveFromSimulation } from '../helpers/archive-fixture.ts'
import { BIN, holdsLock, killAfter } from './kill-after.ts'
import { LOCK_FILE } from '../../src/compactor/lock.ts'
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
  // Each run is killed at a random moment of one hour's work: the first hour (once it holds the
  // lock), or the hour after the k-th one it reported done, so the kill lands after it wrote
  // output. Each run resumes what the killed ones left; a run that ends first must succeed, and
  // runs after a complete one still rewrite every hour's tables.
  const hoursDone = (stdout: string): number => stdout.split('\n').filter(line => /^\d{4}-/.test(line)).length
  const lock = join(fixture.archiveDir, LOCK_FILE)
  let landed = 0
  let inFirstHour = 0
  for (let kill = 0; kill < 2 * hours.length; kill++) {
    const after = kill % hours.length
    const run = await killAfter([BIN, ...args], Math.random() * 200, ({ pid, stdout }) =>
      after === 0 ? holdsLock(lock, pid) : hoursDone(stdout) >= after
    )
    if (!run.killed) {
      t.is(run.code, 0, `a run that ended before its kill failed: ${run.stderr}`)
      continue
    }
    const done = hoursDone(run.stdout)
    if (done >= 1 && done < hours.length) landed++
    else if (done === 0 && run.armed) inFirstHour++
  }
  t.log(`${landed} kills landed between two hours of the range, ${inFirstHour} in its first hour`)
  t.true(landed > 0, 'a run was killed after it had compacted an hour and before it compacted the last')
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
