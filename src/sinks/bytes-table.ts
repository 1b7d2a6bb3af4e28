// Writes closed windows into a totals table (`bytes`: 5-minute windows) as idempotent
// upserts keyed by (timestamp, id, type): a replay after a crash writes the same rows again,
// and a corrected window (see docs/engine.md) overwrites its earlier value. A window that
// PostgreSQL refuses for its data goes back to the runtime (dead letters), see refusals.ts.
import { pgp, type Db } from '../db/pool.ts'
import type { Refusal, WindowSink, WindowedRecord } from '../topology/index.ts'
import { writeIsolating } from './refusals.ts'

import type { TotalType } from '../traffic/types.ts'

type Row = WindowedRecord<string, number>

// The rows travel as three array parameters of a parameterized statement: formatting
// thousands of rows into the SQL text cost the processing thread six times more.
const UPSERT = `INSERT INTO bytes ("timestamp", id, value, type)
  SELECT to_timestamp(start::float8 / 1000), id, value, $4 FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS row(start, id, value)
  ON CONFLICT ("timestamp", id, type) DO UPDATE SET value = EXCLUDED.value`
const ROWS_PER_STATEMENT = 50_000

export class BytesTableSink implements WindowSink<string, number> {
  readonly #db: Db
  readonly #type: TotalType
  /**
   * Rows to write, one per window: a window corrected before the flush keeps its latest value
   * (one INSERT may not touch a row twice).
   */
  #pending = new Map<string, Row>()
  /** Rows written so far, for metrics. */
  written = 0

  constructor(db: Db, type: TotalType) {
    this.#db = db
    this.#type = type
  }

  add(records: WindowedRecord<string, number>[]): void {
    for (const record of records) {
      this.#pending.set(`${record.start}\u0000${record.key}`, record)
    }
  }

  async flush(): Promise<Array<Refusal<Row>>> {
    if (this.#pending.size === 0) return []
    // Windows added while this flush writes wait for the next one. A failed flush fails the
    // commit, and the replay adds its windows again.
    const rows = [...this.#pending.values()]
    this.#pending = new Map()
    const refused: Array<Refusal<Row>> = []
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      for (const { row, error } of await writeIsolating(rows.slice(i, i + ROWS_PER_STATEMENT), chunk =>
        this.#upsert(chunk)
      ))
        refused.push({ record: row, error })
    }
    this.written += rows.length - refused.length
    return refused
  }

  async #upsert(rows: Row[]): Promise<void> {
    const values = [rows.map(r => r.start), rows.map(r => r.key), rows.map(r => r.value), this.#type]
    await this.#db.none(new pgp.ParameterizedQuery({ text: UPSERT, values }))
  }
}
