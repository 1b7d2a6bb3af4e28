// Reads user_metadata for the mirror: the whole table in pages, or the current rows of a few
// ids. The topic's value is always a full row, so any read of the current state is a correct
// record to publish, whatever happened before it.
import { type Db } from '../db/pool.ts'
import { type UserRecord } from '../lib/reference.ts'

const COLUMNS = 'id, name, email, quota'

/** The table in pages ordered by id. Pages are separate reads, not one snapshot: a row changed meanwhile is notified and published again. */
export async function* userPages(db: Db, pageSize: number): AsyncGenerator<UserRecord[]> {
  let after: string | undefined
  for (;;) {
    const rows =
      after === undefined
        ? await db.any<UserRecord>(`SELECT ${COLUMNS} FROM user_metadata ORDER BY id LIMIT $1`, [pageSize])
        : await db.any<UserRecord>(`SELECT ${COLUMNS} FROM user_metadata WHERE id > $2 ORDER BY id LIMIT $1`, [
            pageSize,
            after
          ])
    if (rows.length > 0) yield rows
    if (rows.length < pageSize) return
    after = rows.at(-1)!.id
  }
}

/** The current rows of `ids`; an id without a row has been deleted. */
export async function readUsers(db: Db, ids: string[]): Promise<Map<string, UserRecord>> {
  const rows = await db.any<UserRecord>(`SELECT ${COLUMNS} FROM user_metadata WHERE id = ANY($1::text[])`, [ids])
  return new Map(rows.map(row => [row.id, row]))
}

/** The topic value of a row: compact JSON with a fixed field order. */
export function userJson(row: UserRecord): string {
  return JSON.stringify({ id: row.id, name: row.name, email: row.email, quota: row.quota })
}

/** Whether the change trigger of migration 002 is installed; without it the mirror would never hear of a change. */
export async function hasChangeTrigger(db: Db): Promise<boolean> {
  const found = await db.oneOrNone(`SELECT 1 FROM pg_trigger
    WHERE tgrelid = to_regclass('user_metadata') AND tgname = 'user_metadata_notify_update'`)
  return found !== null
}
