// Test harness for PostgreSQL: each test gets its own migrated database, dropped afterwards.
import { randomUUID } from 'node:crypto'
import type { ExecutionContext } from 'ava'
import { migrate } from '../../src/db/migrate.ts'
import { closeDb, openDb, type Db } from '../../src/db/pool.ts'
import { DEFAULT_DATABASE_URL } from '../../src/lib/config.ts'

export interface TestDatabase {
  url: string
  db: Db
}

export function serverUrl(database: string): string {
  const url = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL)
  url.pathname = `/${database}`
  return url.toString()
}

/** A fresh database named cellstream_test_<random>, migrated, dropped when the test ends. */
export async function testDatabase(t: ExecutionContext): Promise<TestDatabase> {
  const name = `cellstream_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const url = serverUrl(name)
  await migrate(url)
  const db = openDb(url)
  t.teardown(async () => {
    await closeDb(db)
    const admin = openDb(serverUrl('postgres'))
    try {
      await admin.none('DROP DATABASE IF EXISTS $1:name WITH (FORCE)', [name])
    } finally {
      await closeDb(admin)
    }
  })
  return { url, db }
}
