import test from 'ava'
import { BytesTableSink } from '../../src/sinks/bytes-table.ts'
import { QuotaAlertsTableSink } from '../../src/sinks/quota-alerts-table.ts'
import { testDatabase } from '../helpers/db.ts'

const START = Date.parse('2021-02-19T21:05:00Z')
const window = <A>(key: string, value: A, correction = false): { key: string, start: number, end: number, value: A, correction: boolean } =>
  ({ key, start: START, end: START + 300_000, value, correction })

test('a window corrected before the flush is written once, with its latest value', async t => {
  const { db } = await testDatabase(t)
  const sink = new BytesTableSink(db, 'user_total_bytes')
  sink.add([window('u1', 100), window('u2', 5)])
  sink.add([window('u1', 130, true)])
  await sink.flush()
  const rows = await db.any<{ id: string, value: string }>('SELECT id, value FROM bytes ORDER BY id')
  t.deepEqual(rows.map(r => [r.id, Number(r.value)]), [['u1', 130], ['u2', 5]])
})

test('windows added while a flush writes are written by the next flush, none lost', async t => {
  const { db } = await testDatabase(t)
  const sink = new BytesTableSink(db, 'app_total_bytes')
  sink.add([window('SKYPE', 1)])
  const first = sink.flush()
  sink.add([window('FACEBOOK', 2)])
  await first
  await sink.flush()
  const rows = await db.any<{ id: string, value: string }>('SELECT id, value FROM bytes ORDER BY id')
  t.deepEqual(rows.map(r => [r.id, Number(r.value)]), [['FACEBOOK', 2], ['SKYPE', 1]])
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
  const rows = await db.any<{ id: string, value: string, ms: string, type: string }>('SELECT id, value::text, type, (extract(epoch FROM "timestamp") * 1000)::bigint::text AS ms FROM bytes ORDER BY "timestamp"')
  t.deepEqual(rows.map(r => [r.id, r.value, r.ms, r.type]), ids.map((id, i) => [id, String(valueOf(i)), String(startOf(i)), 'antenna_total_bytes']))
})

test('a flush of more rows than one statement takes writes them all', async t => {
  const { db } = await testDatabase(t)
  const sink = new BytesTableSink(db, 'user_total_bytes')
  const count = 120_001
  sink.add(Array.from({ length: count }, (_, i) => window(`user-${i}`, i)))
  await sink.flush()
  const [summary] = await db.any<{ n: string, total: string }>('SELECT count(*)::text AS n, sum(value)::text AS total FROM bytes')
  t.deepEqual([summary!.n, summary!.total], [String(count), String((count - 1) * count / 2)])
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
  const rows = await db.any<{ email: string, usage: string, detected_at: Date }>('SELECT email, usage, detected_at FROM quota_alerts')
  t.deepEqual(rows.map(r => [r.email, Number(r.usage), r.detected_at.getTime()]), [['a@example.com', 300, first!.detected_at.getTime()]])
})
