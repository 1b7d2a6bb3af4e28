import test from 'ava'
import { applyMigrations, loadMigrations, migrate } from '../../src/db/migrate.ts'
import { upsertUsers } from '../../src/db/provision.ts'
import { REFERENCE_USERS } from '../../src/lib/reference.ts'
import { UnavailableError } from '../../src/lib/errors.ts'
import { testDatabase } from '../helpers/db.ts'

test('migrations create the reference tables with UTC timestamps and idempotent keys', async t => {
  const { db } = await testDatabase(t)
  const keys = await db.map(
    `
    SELECT tc.table_name, string_agg(kcu.column_name, ',' ORDER BY kcu.ordinal_position) AS columns
    FROM information_schema.table_constraints tc
    JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name
    WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'
    GROUP BY tc.table_name ORDER BY tc.table_name`,
    [],
    row => `${row.table_name}(${row.columns})`
  )
  t.deepEqual(keys, [
    'bytes(timestamp,id,type)',
    'bytes_hourly(timestamp,id,type)',
    'cellstream_database(id)',
    'quota_alerts(email,timestamp)',
    'schema_migrations(version)',
    'user_metadata(id)',
    'user_quota_limit(email,timestamp)'
  ])
  const types = await db.map(
    `SELECT table_name, data_type FROM information_schema.columns
    WHERE table_schema = 'public' AND column_name = 'timestamp' ORDER BY table_name`,
    [],
    row => `${row.table_name}:${row.data_type}`
  )
  t.deepEqual(types, [
    'bytes:timestamp with time zone',
    'bytes_hourly:timestamp with time zone',
    'quota_alerts:timestamp with time zone',
    'user_quota_limit:timestamp with time zone'
  ])
})

test('re-running migrations applies nothing', async t => {
  const { url, db } = await testDatabase(t)
  t.deepEqual(await migrate(url), { created: false, applied: [] })
  t.deepEqual(await applyMigrations(db, await loadMigrations()), [])
})

test('provisioning twice leaves exactly the 20 reference users', async t => {
  const { db } = await testDatabase(t)
  await upsertUsers(db, REFERENCE_USERS)
  await upsertUsers(db, REFERENCE_USERS)
  const rows = await db.any('SELECT id, name, email, quota FROM user_metadata ORDER BY id')
  t.is(rows.length, 20)
  t.deepEqual(rows[3], {
    id: '00000000-0000-0000-0000-000000000004',
    name: 'fede',
    email: 'fede@gmail.com',
    quota: 5000
  })
})

test('quotas that a JSON number cannot hold exactly (above 2^53) are refused by the schema', async t => {
  const { db } = await testDatabase(t)
  await db.none('INSERT INTO user_metadata (id, name, email, quota) VALUES ($1, $2, $3, $4)', [
    'a',
    'a',
    'a@x',
    '9007199254740991'
  ])
  const error = await t.throwsAsync(
    db.none('INSERT INTO user_metadata (id, name, email, quota) VALUES ($1, $2, $3, $4)', [
      'b',
      'b',
      'b@x',
      '9007199254740992'
    ])
  )
  t.regex(error.message, /quota_fits_a_json_number/)
})

test('each database has one identity of its own', async t => {
  const [{ db: one }, { db: two }] = [await testDatabase(t), await testDatabase(t)]
  const first = await one.map('SELECT id FROM cellstream_database', [], row => row.id as string)
  const second = await two.map('SELECT id FROM cellstream_database', [], row => row.id as string)
  t.is(first.length, 1)
  t.is(second.length, 1)
  t.not(first[0], second[0])
  await t.throwsAsync(one.none('INSERT INTO cellstream_database DEFAULT VALUES'))
})

test('an unreachable PostgreSQL gives a one-line UnavailableError', async t => {
  const error = await t.throwsAsync(migrate('postgres://postgres@127.0.0.1:1/cellstream'), {
    instanceOf: UnavailableError
  })
  t.is(error.message, 'PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/cellstream: ECONNREFUSED')
})
