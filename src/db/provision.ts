// Upserts user metadata; running it again leaves the same rows.
import { type Db, pgp } from './pool.ts'
import { type UserRecord } from '../lib/reference.ts'

const columns = new pgp.helpers.ColumnSet(['id', 'name', 'email', 'quota'], { table: 'user_metadata' })

export async function upsertUsers(db: Db, users: readonly UserRecord[], batchSize = 5000): Promise<number> {
  for (let i = 0; i < users.length; i += batchSize) {
    const batch = users.slice(i, i + batchSize)
    await db.none(
      pgp.helpers.insert(batch, columns) +
        ' ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, quota = EXCLUDED.quota'
    )
  }
  return users.length
}
