// Writes live quota alerts into Postgres `quota_alerts`, once per user and hour: the first
// insert wins and a replayed alert changes nothing (ON CONFLICT DO NOTHING keeps the first
// detection time).
import { pgp, type Db } from '../db/pool.ts'
import type { WindowSink, WindowedRecord } from '../topology/index.ts'

export interface HourlyUsage {
  usage: number
  quota: number | null
  email: string | null
  alerted: boolean
}

const columns = new pgp.helpers.ColumnSet(['email', 'timestamp', 'usage', 'quota', 'detected_at'], { table: 'quota_alerts' })

export class QuotaAlertsTableSink implements WindowSink<string, HourlyUsage> {
  readonly #db: Db
  #pending: Array<{ email: string, timestamp: Date, usage: number, quota: number, detected_at: Date }> = []

  constructor (db: Db) {
    this.#db = db
  }

  add (records: WindowedRecord<string, HourlyUsage>[]): void {
    const now = new Date()
    for (const { start, value } of records) {
      if (value.email === null || value.quota === null) continue
      this.#pending.push({ email: value.email, timestamp: new Date(start), usage: value.usage, quota: value.quota, detected_at: now })
    }
  }

  async flush (): Promise<void> {
    if (this.#pending.length === 0) return
    // Alerts added while this flush writes wait for the next one (see BytesTableSink).
    const rows = this.#pending
    this.#pending = []
    await this.#db.none(pgp.helpers.insert(rows, columns) + ' ON CONFLICT (email, "timestamp") DO NOTHING')
  }
}
