import { readdir } from 'node:fs/promises'
import test from 'ava'
import { hourDir, HOUR_SECONDS } from '../../src/archive/layout.ts'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { archiveFromSimulation } from '../helpers/archive-fixture.ts'
import { hourlyTables, provisionUsers } from '../helpers/hourly-tables.ts'

const EVENING = Date.parse('2026-11-02T20:00:00Z') / 1000

test('compact over a range prints one line per hour and a total, and matches the truth', async t => {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed: 'cli', users: 100 },
    from: EVENING,
    to: EVENING + 2 * HOUR_SECONDS
  })
  const { url, db } = await testDatabase(t)
  await provisionUsers(db, fixture.users)
  const result = await cellstream(
    ['compact', '--from', '2026-11-02T19', '--to', '2026-11-02T22:00', '--archive-dir', fixture.archiveDir],
    { DATABASE_URL: url }
  )
  t.is(result.code, 0, result.stderr)
  const lines = result.stdout.trim().split('\n')
  t.is(lines.length, 4)
  t.is(lines[0], '2026-11-02T19: no data, nothing written')
  t.regex(
    lines[1]!,
    /^2026-11-02T20: [\d,]+ rows read, 0 duplicates dropped, \d+ files merged, [\d,]+ rows written in [\d.]+ s$/
  )
  t.regex(lines[3]!, /^3 hours \(1 without data, 0 failed\): [\d,]+ rows read/)
  t.deepEqual(await hourlyTables(db), {
    bytesHourly: fixture.truth.bytesHourly,
    userQuotaLimit: fixture.truth.userQuotaLimit
  })

  const one = await cellstream([
    'compact',
    '--hour',
    '2026-11-02T21',
    '--archive-dir',
    fixture.archiveDir,
    '--database-url',
    url
  ])
  t.is(one.code, 0, one.stderr)
  t.regex(one.stdout, /^2026-11-02T21: already one compacted file/)
  t.is((await readdir(hourDir(fixture.archiveDir, EVENING + HOUR_SECONDS))).length, 1)
})

test('wrong flags are one line with exit code 2', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['compact'], /exactly one of --hour, --from\/--to or --watch/],
    [['compact', '--hour', '2021-02-19T21', '--watch'], /exactly one of/],
    [['compact', '--hour', '2021-02-19T21:30'], /start of an hour/],
    [['compact', '--hour', 'yesterday'], /--hour must be an ISO 8601 time/],
    [['compact', '--from', '2021-02-19T21'], /--from and --to go together/],
    [['compact', '--from', '2021-02-19T21', '--to', '2021-02-19T20'], /--to must be after --from/],
    [['compact', '--watch', '--lateness', 'soon'], /--lateness must be a whole number/],
    [['compact', '--hour', '2021-02-19T21', '--database-url', 'mysql://x/y'], /must start with postgres/]
  ]
  for (const [args, message] of cases) {
    const result = await cellstream(args)
    t.is(result.code, 2, args.join(' '))
    t.regex(result.stderr, message)
    t.is(result.stderr.trim().split('\n').length, 1)
  }
})

test('an unreachable PostgreSQL is one line with exit code 3', async t => {
  const result = await cellstream([
    'compact',
    '--hour',
    '2021-02-19T21',
    '--archive-dir',
    './data/none',
    '--database-url',
    'postgres://postgres@127.0.0.1:1/cellstream'
  ])
  t.is(result.code, 3)
  t.regex(result.stderr, /^cellstream: PostgreSQL is not reachable at postgres:\/\/postgres@127\.0\.0\.1:1\/cellstream/)
  t.is(result.stderr.trim().split('\n').length, 1)
})
