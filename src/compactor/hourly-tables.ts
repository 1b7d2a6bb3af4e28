// PostgreSQL side of the batch layer: user metadata in, hourly tables out. An hour's rows are
// replaced in one transaction, so a rerun leaves the same rows and readers never see half an hour.
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { from as copyFrom } from 'pg-copy-streams'
import { type Db } from '../db/pool.ts'
import { type HourTotals, type QuotaRows, type UserQuota } from './aggregate.ts'

// Rows per chunk written to the COPY stream: big enough to keep per-write overhead low.
const CHUNK_ROWS = 8192

export async function loadUsers (db: Db): Promise<Map<string, UserQuota>> {
  const users = new Map<string, UserQuota>()
  const rows = await db.any<{ id: string, email: string, quota: number }>('SELECT id, email, quota FROM user_metadata')
  for (const row of rows) users.set(row.id, { email: row.email, quota: Number(row.quota) })
  return users
}

/**
 * Replaces the hour's rows of bytes_hourly and user_quota_limit. After the DELETE the hour is
 * empty and only this compactor writes it (the archive lock), so the new rows are streamed with
 * COPY, several times cheaper than INSERTs for the hundreds of thousands of users of an hour.
 */
export async function replaceHour (db: Db, hour: number, totals: HourTotals, quota: QuotaRows): Promise<void> {
  const timestamp = new Date(hour * 1000).toISOString()
  const connection = await db.connect()
  let open = false
  try {
    await connection.none('BEGIN')
    open = true
    await connection.none('DELETE FROM bytes_hourly WHERE "timestamp" = $1', [timestamp])
    await connection.none('DELETE FROM user_quota_limit WHERE "timestamp" = $1', [timestamp])
    await copyRows(connection.client as unknown as CopyClient, 'COPY bytes_hourly ("timestamp", id, value, type) FROM STDIN', totals.ids.length,
      i => `${timestamp}\t${copyText(totals.ids[i]!)}\t${totals.values[i]!}\t${totals.types[i]!}\n`)
    await copyRows(connection.client as unknown as CopyClient, 'COPY user_quota_limit (email, usage, quota, "timestamp") FROM STDIN', quota.emails.length,
      i => `${copyText(quota.emails[i]!)}\t${quota.usage[i]!}\t${quota.quotas[i]!}\t${timestamp}\n`)
    await connection.none('COMMIT')
    open = false
  } finally {
    // A failed statement leaves the session in an aborted transaction: roll it back before the
    // connection returns to the pool (or drop the connection if even that fails).
    const rollback = open ? connection.none('ROLLBACK').then(() => false, () => true) : Promise.resolve(false)
    connection.done(await rollback)
  }
}

// pg's Client.query also takes a submittable (the COPY stream); pg-promise's typings omit it.
interface CopyClient { query: <T>(submittable: T) => T }

async function copyRows (client: CopyClient, sql: string, count: number, line: (index: number) => string): Promise<void> {
  if (count === 0) return
  function * chunks (): Generator<string> {
    for (let start = 0; start < count; start += CHUNK_ROWS) {
      let chunk = ''
      for (let i = start; i < Math.min(count, start + CHUNK_ROWS); i++) chunk += line(i)
      yield chunk
    }
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(sql)))
}

/** A value in COPY's text format: backslash, tab and line breaks escaped. */
export function copyText (value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, c => c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r') : value
}
