// Writes live quota alerts into Postgres `quota_alerts`, one row per user and hour:
//   - the first time a user's running usage in an hour goes over the quota (the watch), a row
//     with that usage; a replayed alert changes nothing (ON CONFLICT DO NOTHING keeps the
//     first detection time);
//   - when the hour closes, the row's usage becomes the hour's total (an upsert), so that a
//     replay, whose running usages depend on how partitions interleave, ends with the same
//     table: only `detected_at` says when it was seen.
// Rows PostgreSQL refuses for their data go back to the runtime (dead letters), see refusals.ts.
import { pgp, type Db } from '../db/pool.ts'
import type { Refusal, WindowSink, WindowedRecord } from '../topology/index.ts'
import { writeIsolating } from './refusals.ts'

import type { HourlyUsage } from '../traffic/types.ts'

type Window = WindowedRecord<string, HourlyUsage>
interface Row {
  window: Window
  email: string
  timestamp: Date
  usage: number
  quota: number
  detected_at: Date
}

const columns = new pgp.helpers.ColumnSet(['email', 'timestamp', 'usage', 'quota', 'detected_at'], {
  table: 'quota_alerts'
})
const ON_ALERT = ' ON CONFLICT (email, "timestamp") DO NOTHING'
const ON_CLOSE = ' ON CONFLICT (email, "timestamp") DO UPDATE SET usage = EXCLUDED.usage, quota = EXCLUDED.quota'

export class QuotaAlertsTableSink implements WindowSink<string, HourlyUsage> {
  readonly #db: Db
  readonly #conflict: string
  readonly #latestWins: boolean
  /** One row per user and hour (one statement may not touch a row twice). */
  #pending = new Map<string, Row>()

  /** `alerts`: the watch's first alerts; `totals`: the closed hours, whose usage replaces the running one. */
  constructor(db: Db, what: 'alerts' | 'totals' = 'alerts') {
    this.#db = db
    this.#conflict = what === 'alerts' ? ON_ALERT : ON_CLOSE
    // A corrected total replaces the earlier one; a first alert stays the first.
    this.#latestWins = what === 'totals'
  }

  add(records: Window[]): void {
    const now = new Date()
    for (const window of records) {
      const { value } = window
      if (value.email === null || value.quota === null || !value.alerted) continue
      const id = `${window.start}\u0000${value.email}`
      if (this.#latestWins || !this.#pending.has(id))
        this.#pending.set(id, {
          window,
          email: value.email,
          timestamp: new Date(window.start),
          usage: value.usage,
          quota: value.quota,
          detected_at: now
        })
    }
  }

  async flush(): Promise<Array<Refusal<Window>>> {
    if (this.#pending.size === 0) return []
    // Alerts added while this flush writes wait for the next one (see BytesTableSink).
    const rows = [...this.#pending.values()]
    this.#pending = new Map()
    const refused = await writeIsolating(rows, async chunk => {
      await this.#db.none(pgp.helpers.insert(chunk, columns) + this.#conflict)
    })
    return refused.map(({ row, error }) => ({ record: row.window, error }))
  }
}
