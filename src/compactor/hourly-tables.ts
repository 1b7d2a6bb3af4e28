// PostgreSQL side of the batch layer: user metadata in, hourly tables out. Both travel as CSV
// through COPY, which moves hundreds of thousands of rows several times faster than queries
// with parameters. An hour's rows are replaced in one transaction, so a rerun leaves the same
// rows and readers never see half an hour.
import { createReadStream, createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import { type Db } from '../db/pool.ts'
import { sqlString } from '../archive/sql.ts'
import { type HourTotals, USERS_TABLE } from './aggregate.ts'
import { type Engine } from './duckdb-engine.ts'

// pg's Client.query also takes a submittable (a COPY stream); pg-promise's typings omit it.
interface CopyClient {
  query: <T>(submittable: T) => T
}

/** Reads user_metadata once into the engine: quotas and emails as they are when the run starts. */
export async function snapshotUsers(db: Db, engine: Engine): Promise<void> {
  const path = join(engine.scratchDir, 'users.csv')
  const connection = await db.connect()
  try {
    const client = connection.client as unknown as CopyClient
    await pipeline(
      client.query(copyTo('COPY (SELECT id, email, quota FROM user_metadata) TO STDOUT (FORMAT csv)')),
      createWriteStream(path)
    )
  } finally {
    connection.done()
  }
  // PostgreSQL writes an empty text as "" and never a null here: quoted values stay text.
  await engine.connection.run(`CREATE OR REPLACE TABLE ${USERS_TABLE} AS SELECT * FROM read_csv(${sqlString(path)},
    header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false,
    columns = {'id': 'VARCHAR', 'email': 'VARCHAR', 'quota': 'BIGINT'})`)
  await rm(path, { force: true })
}

/**
 * Replaces the hour's rows of bytes_hourly and user_quota_limit. After the DELETE the hour is
 * empty and only this compactor writes it (the archive lock), so COPY cannot conflict. The
 * transaction commits only once `beforeCommit` resolves; if it rejects, nothing changes.
 */
export async function replaceHour(
  db: Db,
  hour: number,
  totals: HourTotals,
  beforeCommit?: Promise<void>
): Promise<void> {
  const timestamp = new Date(hour * 1000).toISOString()
  const connection = await db.connect()
  const client = connection.client as unknown as CopyClient
  let open = false
  try {
    await connection.none('BEGIN')
    open = true
    await connection.none('DELETE FROM bytes_hourly WHERE "timestamp" = $1', [timestamp])
    await connection.none('DELETE FROM user_quota_limit WHERE "timestamp" = $1', [timestamp])
    await pipeline(
      createReadStream(totals.bytesFile),
      client.query(copyFrom('COPY bytes_hourly ("timestamp", id, value, type) FROM STDIN (FORMAT csv)'))
    )
    await pipeline(
      createReadStream(totals.quotaFile),
      client.query(copyFrom('COPY user_quota_limit (email, usage, quota, "timestamp") FROM STDIN (FORMAT csv)'))
    )
    await beforeCommit
    await connection.none('COMMIT')
    open = false
  } finally {
    // A failed statement leaves the session in an aborted transaction: roll it back before the
    // connection returns to the pool (or drop the connection if even that fails).
    const rollback = open
      ? connection.none('ROLLBACK').then(
          () => false,
          () => true
        )
      : Promise.resolve(false)
    connection.done(await rollback)
  }
}
