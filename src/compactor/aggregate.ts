// The hour's totals per antenna, per user and per app, in one scan of the compacted file, and
// the users over quota: user totals joined with user_metadata as it is when the run starts.
import { sqlString } from '../sinks/sql.ts'
import { type Engine } from './duckdb-engine.ts'
import { dataColumns } from './merge.ts'

export type TotalType = 'antenna_total_bytes' | 'user_total_bytes' | 'app_total_bytes'

export interface HourTotals {
  /** Records aggregated. */
  rows: number
  ids: string[]
  values: number[]
  types: TotalType[]
}

export interface UserQuota { email: string, quota: number }

export interface QuotaRows { emails: string[], usage: number[], quotas: number[] }

export async function hourTotals (engine: Engine, file: string): Promise<HourTotals> {
  const columns = await dataColumns(engine, [file], `
    SELECT CASE WHEN GROUPING(antenna_id) = 0 THEN 'antenna_total_bytes'
                WHEN GROUPING(id) = 0 THEN 'user_total_bytes'
                ELSE 'app_total_bytes' END AS type,
           coalesce(antenna_id, id, app) AS id,
           CAST(sum(bytes) AS DOUBLE) AS value,
           CAST(count(*) AS DOUBLE) AS n
    FROM read_parquet(${sqlString(file)}, hive_partitioning = false)
    GROUP BY GROUPING SETS ((antenna_id), (id), (app))`)
  // Columns, not row objects: an hour can have a million users. Sums stay far below 2^53.
  const types = columns.type as TotalType[]
  const counts = columns.n as number[]
  let rows = 0
  for (let i = 0; i < types.length; i++) if (types[i] === 'app_total_bytes') rows += counts[i]!
  return { rows, ids: columns.id as string[], values: columns.value as number[], types }
}

/** Users whose hour usage is strictly greater than their quota; unknown users have none. */
export function overQuota (totals: HourTotals, users: ReadonlyMap<string, UserQuota>): QuotaRows {
  const rows: QuotaRows = { emails: [], usage: [], quotas: [] }
  for (let i = 0; i < totals.ids.length; i++) {
    if (totals.types[i] !== 'user_total_bytes') continue
    const user = users.get(totals.ids[i]!)
    if (user === undefined || totals.values[i]! <= user.quota) continue
    rows.emails.push(user.email)
    rows.usage.push(totals.values[i]!)
    rows.quotas.push(user.quota)
  }
  return rows
}
