// Versioned SQL migrations: files `NNN_name.sql` beside this module, applied in order, each
// in its own transaction, recorded in `schema_migrations`. An advisory lock makes concurrent
// runs safe; a rerun applies nothing.
import { readFile, readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { openDb, closeDb, describeDbError, type Db } from './pool.ts'
import { parseDatabaseUrl } from '../lib/options.ts'

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))
const LOCK_ID = 4_242_001

export interface Migration {
  version: number
  name: string
  sql: string
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter(f => /^\d+_[\w-]+\.sql$/.test(f)).sort()
  return Promise.all(
    files.map(async file => ({
      version: Number(file.split('_')[0]),
      name: file.replace(/\.sql$/, ''),
      sql: await readFile(join(dir, file), 'utf8')
    }))
  )
}

/** Creates the database named by `url` if it does not exist. Returns true when it created it. */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  const parsed = parseDatabaseUrl(url)
  const name = decodeURIComponent(parsed.pathname.slice(1))
  const admin = new URL(parsed)
  admin.pathname = '/postgres'
  const db = openDb(admin.toString())
  try {
    const found = await db.oneOrNone('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (found !== null) return false
    await db.none('CREATE DATABASE $1:name', [name])
    return true
  } catch (error) {
    if ((error as { code?: string }).code === '42P04') return false // created concurrently
    throw describeDbError(error, url)
  } finally {
    await closeDb(db)
  }
}

export async function applyMigrations(db: Db, migrations: Migration[]): Promise<string[]> {
  return db.tx(async t => {
    await t.any('SELECT pg_advisory_xact_lock($1)', [LOCK_ID])
    await t.none(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const done = new Set(await t.map('SELECT version FROM schema_migrations', [], row => row.version as number))
    const applied: string[] = []
    for (const migration of migrations) {
      if (done.has(migration.version)) continue
      // Without values, the SQL goes to the server verbatim (multi-statement, $$ bodies).
      await t.multi(migration.sql)
      await t.none('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name])
      applied.push(migration.name)
    }
    return applied
  })
}

/** `cellstream db migrate`: creates the database if needed and applies pending migrations. */
export async function migrate(url: string): Promise<{ created: boolean; applied: string[] }> {
  const created = await createDatabaseIfMissing(url)
  const db = openDb(url)
  try {
    const applied = await applyMigrations(db, await loadMigrations())
    return { created, applied }
  } catch (error) {
    throw describeDbError(error, url)
  } finally {
    await closeDb(db)
  }
}
