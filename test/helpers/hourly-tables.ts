// The hourly tables as the ground truth prints them, sorted the same way, for comparisons.
import { type Db } from '../../src/db/pool.ts'
import { type BytesRow, type QuotaRow } from '../../src/truth/ground-truth.ts'
import { upsertUsers } from '../../src/db/provision.ts'
import { makeUsers } from '../../src/simulator/population.ts'

const ISO = `to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`

export async function hourlyTables(db: Db): Promise<{ bytesHourly: BytesRow[]; userQuotaLimit: QuotaRow[] }> {
  const bytesHourly = await db.any<BytesRow>(`SELECT ${ISO} AS "timestamp", id, value, type FROM bytes_hourly`)
  const userQuotaLimit = await db.any<QuotaRow>(
    `SELECT email, usage, quota, ${ISO} AS "timestamp" FROM user_quota_limit`
  )
  bytesHourly.sort((a, b) => compare(a.timestamp, b.timestamp) || compare(a.type, b.type) || compare(a.id, b.id))
  userQuotaLimit.sort((a, b) => compare(a.timestamp, b.timestamp) || compare(a.email, b.email))
  return { bytesHourly, userQuotaLimit }
}

export async function provisionUsers(db: Db, count: number): Promise<void> {
  await upsertUsers(db, makeUsers(count))
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
