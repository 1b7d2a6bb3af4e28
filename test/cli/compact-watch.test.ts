// `cellstream compact --watch` as the process an operator runs: it compacts an hour once the
// hour has closed (its end plus --lateness has passed on the wall clock), goes on watching for
// more, and exits cleanly on SIGTERM.
import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { HOUR_SECONDS, hourLabel } from '../../src/archive/layout.ts'
import { archiveFromSimulation } from '../helpers/archive-fixture.ts'
import { logLines } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { exitReason, waitFor } from '../helpers/wait.ts'
import { hourlyTables, provisionUsers } from '../helpers/hourly-tables.ts'
import { sleep } from '../../src/lib/processes.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))
const USERS = 40

test('compact --watch compacts an hour once it closes, then files of an hour that land later, and stops on SIGTERM', async t => {
  // The hour that ended last closes 30 s from now: its end plus a lateness chosen for that.
  const now = Math.floor(Date.now() / 1000)
  const end = now - (now % HOUR_SECONDS)
  const hour = end - HOUR_SECONDS
  const lateness = now - end + 30
  const due = end + lateness
  const current = await archiveFromSimulation(t, {
    traffic: { seed: 'watch', users: USERS, rate: 2 },
    from: hour,
    to: end,
    now
  })
  const archiveDir = current.archiveDir
  // An hour long closed, which the watcher's first round compacts.
  const past = hour - 3 * HOUR_SECONDS
  const old = await archiveFromSimulation(t, {
    traffic: { seed: 'watch-past', users: USERS, rate: 1 },
    from: past,
    to: past + HOUR_SECONDS,
    now,
    archiveDir
  })
  const { url, db } = await testDatabase(t)
  await provisionUsers(db, USERS)

  const child = spawn(
    process.execPath,
    [BIN, 'compact', '--watch', '--lateness', String(lateness), '--interval', '1', '--archive-dir', archiveDir],
    { env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] }
  )
  t.teardown(() => child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stderr += chunk))
  const failed = (): string | undefined => {
    const reason = exitReason(child)
    return reason === undefined ? undefined : `${reason}: ${stderr}`
  }
  const compactedBy = (what: string, h: number, deadlineMs: number): Promise<true> =>
    waitFor(
      `the watcher to compact ${hourLabel(h)} ${what}`,
      () =>
        new RegExp(`^${hourLabel(h)}: [\\d,]+ rows read, 0 duplicates dropped, \\d+ files merged`, 'm').test(stdout)
          ? true
          : undefined,
      { deadlineMs, failed }
    )
  const tables = (...fixtures: Array<typeof old>): unknown => ({
    bytesHourly: fixtures.flatMap(f => f.truth.bytesHourly),
    userQuotaLimit: fixtures.flatMap(f => f.truth.userQuotaLimit)
  })

  // The past hour is compacted in the first round, the open one is left alone until it closes.
  // Rounds come every second and print each hour as they go: shortly before the close, a
  // watcher that ignored the lateness would have printed it long since. (A machine too slow to
  // look before the close cannot check that.)
  await compactedBy('in its first round', past, 120_000)
  await sleep((due - 5) * 1000 - Date.now())
  if (Date.now() / 1000 < due) {
    t.notRegex(stdout, new RegExp(`^${hourLabel(hour)}: `, 'm'), 'not compacted before it closed')
    t.deepEqual(await hourlyTables(db), tables(old))
  } else {
    t.log('the watcher took until the close to compact the past hour')
  }
  await compactedBy('once closed', hour, (due - Date.now() / 1000) * 1000 + 120_000)
  t.deepEqual(await hourlyTables(db), tables(old, current))

  // Still watching: files of an earlier hour that land now are compacted too.
  const earlier = hour - 2 * HOUR_SECONDS
  const late = await archiveFromSimulation(t, {
    traffic: { seed: 'watch-late', users: USERS, rate: 1 },
    from: earlier,
    to: earlier + HOUR_SECONDS,
    now,
    archiveDir
  })
  await compactedBy('after its files landed', earlier, 120_000)
  t.deepEqual(await hourlyTables(db), tables(old, late, current))

  child.kill('SIGTERM')
  await waitFor('the watcher to exit after SIGTERM', () => (exitReason(child) !== undefined ? true : undefined), {
    deadlineMs: 60_000
  })
  t.is(child.exitCode, 0, stderr)
  t.deepEqual(
    logLines(stderr).filter(line => line.level === 'error' || line.level === 'fatal'),
    [],
    'no error logged'
  )
  t.is(stdout.match(/^\S+: [\d,]+ rows read/gm)?.length, 3, 'each hour compacted once')
})
