// What the dashboard reads from PostgreSQL: the speed layer's 5-minute totals and live quota
// alerts, the batch layer's hourly tables, and the users' quotas. Times are epoch seconds.
import type { Db } from '../db/pool.ts'
import type { TotalType } from '../traffic/types.ts'

export const WINDOW_SECONDS = 300
export const WINDOWS_SHOWN = 24
export const HOURS_SHOWN = 12
const TOP_USERS = 10
const RECENT_ALERTS = 12

export interface WindowTotal {
  start: number
  type: TotalType
  id: string
  value: number
}
export interface UserUsage {
  email: string
  usage: number
  quota: number
}
export interface QuotaAlert {
  email: string
  hour: number
  usage: number
  quota: number
  detectedAt: number
}
/** Users over quota in an hour: seen live (speed layer) and by the hourly compaction (batch, once compacted). */
export interface OverQuotaHour {
  hour: number
  speed: number
  batch: number | undefined
  users: number | undefined
}

export interface TablesView {
  /** Start of the newest closed window in `bytes`, if any. */
  latestWindow: number | undefined
  /** Per app and per antenna, the WINDOWS_SHOWN windows up to the newest. */
  windows: WindowTotal[]
  /** The heaviest users so far in the newest window's hour, and their quotas. */
  topUsers: { hour: number; users: UserUsage[] } | undefined
  alerts: QuotaAlert[]
  alertCount: number
  overQuota: OverQuotaHour[]
}

const epoch = (column: string): string => `extract(epoch FROM ${column})::bigint`

export async function readTables(db: Db): Promise<TablesView> {
  return await db.task(async t => {
    const latestWindow =
      (await t.one(
        `SELECT ${epoch('max("timestamp")')} AS latest FROM bytes`,
        [],
        row => row.latest as number | null
      )) ?? undefined
    const windows =
      latestWindow === undefined
        ? []
        : await t.map(
            `SELECT ${epoch('"timestamp"')} AS start, type, id, value FROM bytes
          WHERE "timestamp" >= to_timestamp($1) AND type IN ('app_total_bytes', 'antenna_total_bytes')`,
            [latestWindow - (WINDOWS_SHOWN - 1) * WINDOW_SECONDS],
            row => row as WindowTotal
          )
    const hour = latestWindow === undefined ? undefined : latestWindow - (latestWindow % 3600)
    const topUsers =
      hour === undefined
        ? undefined
        : {
            hour,
            users: await t.map(
              `SELECT u.email, sum(b.value)::bigint AS usage, u.quota FROM bytes b JOIN user_metadata u ON u.id = b.id
            WHERE b.type = 'user_total_bytes' AND b."timestamp" >= to_timestamp($1) AND b."timestamp" < to_timestamp($1 + 3600)
            GROUP BY u.email, u.quota ORDER BY usage DESC, u.email LIMIT $2`,
              [hour, TOP_USERS],
              row => row as UserUsage
            )
          }
    const alerts = await t.map(
      `SELECT email, ${epoch('"timestamp"')} AS hour, usage, quota, (extract(epoch FROM detected_at) * 1000)::bigint AS "detectedAt"
      FROM quota_alerts ORDER BY detected_at DESC, email LIMIT $1`,
      [RECENT_ALERTS],
      row => row as QuotaAlert
    )
    const { alertCount, lastAlertHour } = await t.one(
      `SELECT count(*) AS "alertCount", ${epoch('max("timestamp")')} AS "lastAlertHour" FROM quota_alerts`,
      [],
      row => row as { alertCount: number; lastAlertHour: number | null }
    )
    // Alerts of the hour still open count too: they come as usage goes over, not at the close.
    const lastHour = Math.max(hour ?? -Infinity, lastAlertHour ?? -Infinity)
    return {
      latestWindow,
      windows,
      topUsers,
      alerts,
      alertCount,
      overQuota: await overQuota(t, Number.isFinite(lastHour) ? lastHour : undefined)
    }
  })
}

async function overQuota(t: Pick<Db, 'map'>, lastHour: number | undefined): Promise<OverQuotaHour[]> {
  if (lastHour === undefined) return []
  const from = lastHour - (HOURS_SHOWN - 1) * 3600
  const perHour = async (sql: string): Promise<Map<number, number>> =>
    new Map(await t.map(sql, [from], row => [row.hour as number, row.n as number] as const))
  const speed = await perHour(
    `SELECT ${epoch('"timestamp"')} AS hour, count(*) AS n FROM quota_alerts WHERE "timestamp" >= to_timestamp($1) GROUP BY 1`
  )
  const batch = await perHour(
    `SELECT ${epoch('"timestamp"')} AS hour, count(*) AS n FROM user_quota_limit WHERE "timestamp" >= to_timestamp($1) GROUP BY 1`
  )
  // An hour is compacted once bytes_hourly has it; its user rows say how many users it had.
  const users = await perHour(
    `SELECT ${epoch('"timestamp"')} AS hour, count(*) FILTER (WHERE type = 'user_total_bytes') AS n FROM bytes_hourly WHERE "timestamp" >= to_timestamp($1) GROUP BY 1`
  )
  const hours: OverQuotaHour[] = []
  // From the first hour with anything to show.
  const first = Math.min(lastHour, ...speed.keys(), ...batch.keys(), ...users.keys())
  for (let hour = first; hour <= lastHour; hour += 3600) {
    const compacted = users.has(hour)
    hours.push({
      hour,
      speed: speed.get(hour) ?? 0,
      batch: compacted ? (batch.get(hour) ?? 0) : undefined,
      users: users.get(hour)
    })
  }
  return hours
}
