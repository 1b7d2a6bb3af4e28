import test from 'ava'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'

test('db migrate and db provision twice leave exactly 20 users', async t => {
  const { url, db } = await testDatabase(t)
  for (let run = 0; run < 2; run++) {
    const migrate = await cellstream(['db', 'migrate'], { DATABASE_URL: url })
    t.is(migrate.code, 0, migrate.stderr)
    t.is(migrate.stdout, 'schema is up to date\n')
    const provision = await cellstream(['db', 'provision'], { DATABASE_URL: url })
    t.is(provision.code, 0, provision.stderr)
    t.is(provision.stdout, 'upserted 20 users; user_metadata holds 20\n')
  }
  t.is(await db.one('SELECT count(*) AS n FROM user_metadata', [], row => row.n as number), 20)
})

test('db migrate creates a missing database', async t => {
  const { url } = await testDatabase(t)
  const fresh = new URL(url)
  fresh.pathname += '_fresh'
  t.teardown(async () => {
    const { openDb, closeDb } = await import('../../src/db/pool.ts')
    const admin = openDb(url)
    await admin.none('DROP DATABASE IF EXISTS $1:name WITH (FORCE)', [fresh.pathname.slice(1)])
    await closeDb(admin)
  })
  const result = await cellstream(['db', 'migrate', '--database-url', fresh.toString()])
  t.is(result.code, 0, result.stderr)
  t.is(
    result.stdout,
    'created the database\napplied 001_tables, 002_user_metadata_notify, 003_quota_alerts, 004_database_identity_and_quota_limit\n'
  )
})
