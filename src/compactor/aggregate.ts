// The hour's totals per antenna, per user and per app, in one scan of the compacted file, and
// the users over quota: user totals joined with the users as read when the run started
// (hourly-tables.ts). Both go to CSV files for PostgreSQL's COPY: an hour can have a million
// users, and DuckDB writes them far faster than they could be converted to JavaScript values.
import { join } from 'node:path'
import { sqlString } from '../archive/sql.ts'
import { type Engine } from './duckdb-engine.ts'
import { dataQuery } from './merge.ts'

export const USERS_TABLE = 'run_users'

export interface HourTotals {
  /** Records aggregated. */
  rows: number
  /** bytes_hourly rows as CSV: timestamp, id, value, type. */
  bytesFile: string
  /** user_quota_limit rows as CSV: email, usage, quota, timestamp. */
  quotaFile: string
}

export async function hourTotals(engine: Engine, file: string, hour: number): Promise<HourTotals> {
  const timestamp = sqlString(new Date(hour * 1000).toISOString())
  await dataQuery(
    engine,
    [file],
    `
    CREATE OR REPLACE TEMP TABLE hour_totals AS
    SELECT CASE WHEN GROUPING(antenna_id) = 0 THEN 'antenna_total_bytes'
                WHEN GROUPING(id) = 0 THEN 'user_total_bytes'
                ELSE 'app_total_bytes' END AS type,
           coalesce(antenna_id, id, app) AS id,
           CAST(sum(bytes) AS BIGINT) AS value,
           count(*) AS n
    FROM read_parquet(${sqlString(file)}, hive_partitioning = false)
    GROUP BY GROUPING SETS ((antenna_id), (id), (app))`
  )
  const bytesFile = join(engine.scratchDir, 'bytes_hourly.csv')
  const quotaFile = join(engine.scratchDir, 'user_quota_limit.csv')
  await engine.connection.run(
    `COPY (SELECT ${timestamp}, id, value, type FROM hour_totals) TO ${sqlString(bytesFile)} (FORMAT csv, HEADER false)`
  )
  // Strictly greater than the quota; users without metadata have none.
  await engine.connection.run(`COPY (
    SELECT u.email, t.value, u.quota, ${timestamp} FROM hour_totals t JOIN ${USERS_TABLE} u ON u.id = t.id
    WHERE t.type = 'user_total_bytes' AND t.value > u.quota
  ) TO ${sqlString(quotaFile)} (FORMAT csv, HEADER false)`)
  const [count] = (
    await engine.connection.runAndReadAll(`SELECT sum(n) AS n FROM hour_totals WHERE type = 'app_total_bytes'`)
  ).getRowObjectsJS()
  return { rows: Number(count!.n ?? 0), bytesFile, quotaFile }
}
