import test from 'ava'
import { BytesTableSink } from '../../src/sinks/bytes-table.ts'
import { QuotaAlertsTableSink } from '../../src/sinks/quota-alerts-table.ts'
import { testDatabase } from '../helpers/db.ts'

const START = Date.parse('2021-02-19T21:05:00Z')
const window = <A>(
  key: string,
  value: A,
  correction = false
): { key: string; start: number; end: number; value: A; correction: boolean } => ({
  key,
  start: START,
  end: START + 300_000,
  value,
  correction
})

test('a window corrected before the flush is written once, with its latest value', async t => {
  const { db } = await testDatabase(t)
  const sink = new BytesTableSink(db, 'user_total_bytes')
  sink.add([window('u1', 100), window('u2', 5)])
  sink.add([window('u1', 130, true)])
  await sink.flush()
  const rows = await db.any<{ id: string; value: string }>('SELECT id, value FROM bytes ORDER BY id')
  t.deepEqual(
    rows.map(r => [r.id, Number(r.value)]),
    [
      ['u1', 130],
      ['u2', 5]
    ]
  )
})

test('windows added while a flush writes are written by the next flush, none lost', async t => {
  const { db } = await testDatabase(t)
  const sink = new BytesTableSink(db, 'app_total_bytes')
  sink.add([window('SKYPE', 1)])
  const first = sink.flush()
  sink.add([window('FACEBOOK', 2)])
  await first
  await sink.flush()
  const rows = await db.any<{ id: string; value: string }>('SELECT id, value FROM bytes ORDER BY id')
  t.deepEqual(
    rows.map(r => [r.id, Number(r.value)]),
    [
      ['FACEBOOK', 2],
      ['SKYPE', 1]
    ]
  )
})

test('rows keep their window start (to the millisecond), type, any id text and values up to 2^53 exactly', async t => {
  const { db } = await testDatabase(t)
  const sink = new BytesTableSink(db, 'antenna_total_bytes')
  const ids = ['a"b', 'c,d', '{e}', 'f\\g', 'NULL', ' spaced ', 'Tél', '']
  // Starts off whole seconds, and values past what a float8 holds exactly.
  const startOf = (i: number): number => START + i * 300_000 + i * 7
  const valueOf = (i: number): number => Number.MAX_SAFE_INTEGER - i
  sink.add(ids.map((id, i) => ({ ...window(id, valueOf(i)), start: startOf(i), end: startOf(i) + 300_000 })))
  await sink.flush()
  const rows = await db.any<{ id: string; value: string; ms: string; type: string }>(
    'SELECT id, value::text, type, (extract(epoch FROM "timestamp") * 1000)::bigint::text AS ms FROM bytes ORDER BY "timestamp"'
  )
  t.deepEqual(
    rows.map(r => [r.id, r.value, r.ms, r.type]),
    ids.map((id, i) => [id, String(valueOf(i)), String(startOf(i)), 'antenna_total_bytes'])
  )
})

test('a flush of more rows than one statement takes writes them all', async t => {
  const { db } = await testDatabase(t)
  const sink = new BytesTableSink(db, 'user_total_bytes')
  const count = 120_001
  sink.add(Array.from({ length: count }, (_, i) => window(`user-${i}`, i)))
  await sink.flush()
  const [summary] = await db.any<{ n: string; total: string }>(
    'SELECT count(*)::text AS n, sum(value)::text AS total FROM bytes'
  )
  t.deepEqual([summary!.n, summary!.total], [String(count), String(((count - 1) * count) / 2)])
})

test('an alert decided twice before a flush, or replayed after one, stays one row with the first detection', async t => {
  const { db } = await testDatabase(t)
  const sink = new QuotaAlertsTableSink(db)
  const usage = { usage: 300, quota: 200, email: 'a@example.com', alerted: true }
  sink.add([window('u1', usage), window('u1', usage)])
  await sink.flush()
  const [first] = await db.any<{ detected_at: Date }>('SELECT detected_at FROM quota_alerts')
  sink.add([window('u1', { ...usage, usage: 350 })])
  await sink.flush()
  const rows = await db.any<{ email: string; usage: string; detected_at: Date }>(
    'SELECT email, usage, detected_at FROM quota_alerts'
  )
  t.deepEqual(
    rows.map(r => [r.email, Number(r.usage), r.detected_at.getTime()]),
    [['a@example.com', 300, first!.detected_at.getTime()]]
  )
})

test('rows PostgreSQL refuses for their data are returned with the reason, and every other row is written', async t => {
  const { db } = await testDatabase(t)
  await db.none("ALTER TABLE bytes ADD CONSTRAINT no_poison CHECK (id NOT LIKE 'POISON%')")
  const sink = new BytesTableSink(db, 'app_total_bytes')
  const ids = Array.from({ length: 100 }, (_, i) => (i === 17 || i === 80 ? `POISON-${i}` : `APP-${i}`))
  sink.add(ids.map(id => window(id, 1)))
  const refused = await sink.flush()
  t.deepEqual(
    refused.map(r => r.record.key),
    ['POISON-17', 'POISON-80']
  )
  t.regex(refused[0]!.error, /^23514 .*no_poison/)
  t.is(await db.one('SELECT count(*) AS n FROM bytes', [], row => Number(row.n)), 98)
})

test('an outage is not a refusal: it throws, so the commit is retried', async t => {
  const { db } = await testDatabase(t)
  await db.none('DROP TABLE bytes')
  const sink = new BytesTableSink(db, 'app_total_bytes')
  sink.add([window('SKYPE', 1)])
  await t.throwsAsync(sink.flush(), { message: /relation "bytes" does not exist/ })
})

test("quota alerts: a refused alert is returned; an hour's total replaces the usage of its first alert", async t => {
  const { db } = await testDatabase(t)
  await db.none("ALTER TABLE quota_alerts ADD CONSTRAINT no_fede CHECK (email <> 'fede@gmail.com')")
  const alerts = new QuotaAlertsTableSink(db, 'alerts')
  const totals = new QuotaAlertsTableSink(db, 'totals')
  const usage = (email: string, value: number): { usage: number; quota: number; email: string; alerted: boolean } => ({
    usage: value,
    quota: 5000,
    email,
    alerted: true
  })
  alerts.add([window('u1', usage('andres@gmail.com', 5001)), window('u4', usage('fede@gmail.com', 6000))])
  const refused = await alerts.flush()
  t.deepEqual(
    refused.map(r => r.record.value.email),
    ['fede@gmail.com']
  )
  alerts.add([window('u1', usage('andres@gmail.com', 7000))])
  await alerts.flush()
  t.deepEqual(
    await db.map('SELECT usage FROM quota_alerts', [], row => Number(row.usage)),
    [5001],
    'a replayed alert changes nothing'
  )
  totals.add([
    window('u1', usage('andres@gmail.com', 9000)),
    window('u1', { ...usage('andres@gmail.com', 9500), alerted: true }),
    window('u2', { ...usage('x@gmail.com', 10), alerted: false })
  ])
  await totals.flush()
  t.deepEqual(
    await db.map('SELECT email, usage FROM quota_alerts', [], row => `${row.email} ${row.usage}`),
    ['andres@gmail.com 9500'],
    'the latest total of an alerted hour; no row for an hour without alert'
  )
})
