import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { hourTotals } from '../../src/compactor/aggregate.ts'
import { openEngine } from '../../src/compactor/duckdb-engine.ts'
import { replaceHour, snapshotUsers } from '../../src/compactor/hourly-tables.ts'
import { testDatabase } from '../helpers/db.ts'

const HOUR = Date.parse('2026-11-02T19:00:00Z') / 1000

test('text with commas, quotes, backslashes, line breaks and empty text reaches both tables exactly through CSV', async t => {
  const { db } = await testDatabase(t)
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-tables-'))
  const engine = await openEngine(join(dir, 'scratch'))
  t.teardown(async () => {
    engine.close()
    await rm(dir, { recursive: true, force: true })
  })
  const odd = ['a,b', 'say "hi"', 'back\\slash\\N', 'two\nlines\r\n', '', '\\.', 'tab\there', 'é ünicode']
  for (const [i, text] of odd.entries()) {
    await db.none('INSERT INTO user_metadata (id, name, email, quota) VALUES ($1, $2, $3, 10)', [
      text,
      `n${i}`,
      `${text}@${i}`
    ])
  }
  await snapshotUsers(db, engine)
  const file = join(dir, 'hour.parquet')
  const values = odd.map(
    (text, i) =>
      `(${100 + i}::BIGINT, ${HOUR}::BIGINT, ${sqlText(text)}, ${sqlText(text)}, ${sqlText(`${text}-antenna`)}, NULL, NULL, 'devices', 0, ${i}::BIGINT)`
  )
  await engine.connection
    .run(`COPY (SELECT * FROM (VALUES ${values.join(', ')}) v(bytes, "timestamp", app, id, antenna_id, email, quota, topic, partition, "offset"))
    TO '${file}' (FORMAT parquet)`)
  const totals = await hourTotals(engine, file, HOUR)
  t.is(totals.rows, odd.length)
  await replaceHour(db, HOUR, totals)

  const bytes = await db.any<{ id: string; value: number; type: string }>(
    'SELECT id, value, type FROM bytes_hourly ORDER BY type, value'
  )
  const expected = ['antenna_total_bytes', 'app_total_bytes', 'user_total_bytes'].flatMap(type =>
    odd.map((text, i) => ({ id: type === 'antenna_total_bytes' ? `${text}-antenna` : text, value: 100 + i, type }))
  )
  t.deepEqual(bytes, expected)
  const quota = await db.any<{ email: string; usage: number; quota: number }>(
    'SELECT email, usage, quota FROM user_quota_limit ORDER BY usage'
  )
  t.deepEqual(
    quota,
    odd.map((text, i) => ({ email: `${text}@${i}`, usage: 100 + i, quota: 10 }))
  )
})

function sqlText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}
