// PostgreSQL side of the batch layer: user metadata in, hourly tables out. An hour's rows are
// replaced in one transaction, so a rerun leaves the same rows and readers never see half an hour.
import { type Db, pgp } from '../db/pool.ts'
import { type HourTotals, type QuotaRows, type UserQuota } from './aggregate.ts'

export async function loadUsers (db: Db): Promise<Map<string, UserQuota>> {
  const users = new Map<string, UserQuota>()
  const rows = await db.any<{ id: string, email: string, quota: number }>('SELECT id, email, quota FROM user_metadata')
  for (const row of rows) users.set(row.id, { email: row.email, quota: Number(row.quota) })
  return users
}

/** Replaces the hour's rows of bytes_hourly and user_quota_limit. Arrays travel as parameters. */
export async function replaceHour (db: Db, hour: number, totals: HourTotals, quota: QuotaRows): Promise<void> {
  const timestamp = new Date(hour * 1000).toISOString()
  await db.tx(async t => {
    await t.none(new pgp.ParameterizedQuery({ text: 'DELETE FROM bytes_hourly WHERE "timestamp" = $1', values: [timestamp] }))
    await t.none(new pgp.ParameterizedQuery({
      text: `INSERT INTO bytes_hourly ("timestamp", id, value, type)
             SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[])
             ON CONFLICT ("timestamp", id, type) DO UPDATE SET value = EXCLUDED.value`,
      values: [timestamp, totals.ids, totals.values, totals.types]
    }))
    await t.none(new pgp.ParameterizedQuery({ text: 'DELETE FROM user_quota_limit WHERE "timestamp" = $1', values: [timestamp] }))
    await t.none(new pgp.ParameterizedQuery({
      text: `INSERT INTO user_quota_limit (email, usage, quota, "timestamp")
             SELECT *, $1 FROM unnest($2::text[], $3::bigint[], $4::bigint[])
             ON CONFLICT (email, "timestamp") DO UPDATE SET usage = EXCLUDED.usage, quota = EXCLUDED.quota`,
      values: [timestamp, quota.emails, quota.usage, quota.quotas]
    }))
  })
}
