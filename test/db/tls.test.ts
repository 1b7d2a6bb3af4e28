// PostgreSQL over TLS, against a private server that admits TLS connections only: `sslmode`
// and the CA from the URL or the environment reach every connection (pools, COPY streams),
// and a certificate that cannot be trusted fails in one line.
import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { startTlsPostgres, type TlsPostgres } from '../helpers/tls-postgres.ts'
import { closeDb, describeDbError, openDb } from '../../src/db/pool.ts'
import { openEngine } from '../../src/compactor/duckdb-engine.ts'
import { snapshotUsers } from '../../src/compactor/hourly-tables.ts'
import { USERS_TABLE } from '../../src/compactor/aggregate.ts'
import { errorMessage } from '../../src/lib/errors.ts'

let server: TlsPostgres | undefined
test.before(async () => {
  server = await startTlsPostgres()
})
test.after.always(async () => {
  await server?.stop()
})

/** Whether the session behind `url` is encrypted, or why it could not connect. */
async function sessionTls(url: string): Promise<boolean | string> {
  const db = openDb(url, { max: 1 })
  try {
    return await db.one('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', [], row => row.ssl as boolean)
  } catch (error) {
    return errorMessage(describeDbError(error, url))
  } finally {
    await closeDb(db)
  }
}

test('`db migrate` and `db provision` with sslmode=verify-full and the CA in the URL; COPY runs over the same TLS', async t => {
  const url = server!.url('localhost', 'cellstream', { sslmode: 'verify-full', sslrootcert: server!.caFile })
  for (const args of [
    ['db', 'migrate'],
    ['db', 'provision']
  ]) {
    const result = await cellstream(args, { DATABASE_URL: url })
    t.is(result.code, 0, result.stderr)
  }
  t.is(await sessionTls(url), true)

  const db = openDb(url)
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-tls-'))
  const engine = await openEngine(join(dir, 'scratch'))
  t.teardown(async () => {
    engine.close()
    await closeDb(db)
    await rm(dir, { recursive: true, force: true })
  })
  await snapshotUsers(db, engine)
  const reader = await engine.connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${USERS_TABLE}`)
  t.is(reader.getRowObjectsJS()[0]?.n, 20, 'the 20 provisioned users came through COPY')
})

test('each sslmode as libpq reads it: require encrypts, verify-ca checks the CA, verify-full the host name too', async t => {
  const { url, caFile } = server!
  t.is(await sessionTls(url('127.0.0.1', 'postgres', { sslmode: 'require' })), true, 'require: no check')
  t.is(await sessionTls(url('127.0.0.1', 'postgres', { sslmode: 'verify-ca', sslrootcert: caFile })), true)
  t.is(await sessionTls(url('localhost', 'postgres', { sslmode: 'verify-full', sslrootcert: caFile })), true)
  t.regex(
    String(await sessionTls(url('127.0.0.1', 'postgres', { sslmode: 'verify-full', sslrootcert: caFile }))),
    /^cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?sslmode=verify-full&sslrootcert=.* over TLS: .*(IP: 127\.0\.0\.1 is not in the cert's list|altnames)/,
    'verify-full: the certificate names localhost, not 127.0.0.1'
  )
  t.regex(
    String(await sessionTls(url('localhost', 'postgres', { sslmode: 'verify-full' }))),
    /^cannot connect to PostgreSQL at .* over TLS: unable to verify the first certificate \(sslrootcert or PGSSLROOTCERT names/,
    'verify-full without the CA: the system does not trust it'
  )
  t.regex(
    String(await sessionTls(url('localhost', 'postgres'))),
    /^PostgreSQL refused the login for .*no pg_hba\.conf entry .*no encryption/,
    'no sslmode: plaintext, which this server refuses'
  )
})

test('PGSSLMODE and PGSSLROOTCERT apply to a URL without TLS parameters; a bad sslmode is a usage error', async t => {
  const { url, caFile } = server!
  const ok = await cellstream(['db', 'migrate'], {
    DATABASE_URL: url('localhost', 'cellstream_env'),
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: caFile
  })
  t.is(ok.code, 0, ok.stderr)
  const untrusted = await cellstream(['db', 'migrate'], {
    DATABASE_URL: url('localhost', 'cellstream_env'),
    PGSSLMODE: 'verify-full'
  })
  t.is(untrusted.code, 3)
  t.regex(
    untrusted.stderr,
    /^cellstream: cannot connect to PostgreSQL at postgres:\/\/postgres@localhost:\d+\/\w+ over TLS: /
  )
  t.is(untrusted.stderr.trim().split('\n').length, 1, untrusted.stderr)
  const bad = await cellstream(['db', 'migrate'], { DATABASE_URL: url('localhost', 'x', { sslmode: 'strict' }) })
  t.is(bad.code, 2)
  t.regex(bad.stderr, /sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, got 'strict'/)
})

test('DATABASE_PASSWORD_FILE gives the password of a URL without one; a wrong one is refused in a line that does not show it', async t => {
  const { url, caFile, app } = server!
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const right = join(dir, 'right')
  const wrong = join(dir, 'wrong')
  await writeFile(right, `${app.password}\n`)
  await writeFile(wrong, 'wrongSecret-8d2f4b6a\n')
  const target = new URL(url('localhost', 'cellstream_app', { sslmode: 'verify-full', sslrootcert: caFile }))
  target.username = app.user
  const ok = await cellstream(['db', 'migrate'], { DATABASE_URL: target.toString(), DATABASE_PASSWORD_FILE: right })
  t.is(ok.code, 0, ok.stderr)
  const refused = await cellstream(['db', 'migrate'], {
    DATABASE_URL: target.toString(),
    DATABASE_PASSWORD_FILE: wrong
  })
  t.is(refused.code, 3)
  t.regex(
    refused.stderr,
    /^cellstream: PostgreSQL refused the login for postgres:\/\/app@localhost:\d+\/cellstream_app\?.*password authentication failed for user "app"\n$/
  )
  t.false((refused.stdout + refused.stderr + ok.stdout + ok.stderr).includes('Secret-'))
})
