// Secrets given to a command never show in what it prints, whatever fails: the password of
// DATABASE_URL and of Kafka, by variable or by flag.
import test from 'ava'
import { cellstream } from '../helpers/cli.ts'
import { serverUrl } from '../helpers/db.ts'
import { kafkaBrokers, uniqueName } from '../helpers/kafka.ts'

const SECRET = 'topSecret-4e1d8b2c'

const withPassword = (url: string): string => {
  const parsed = new URL(url)
  parsed.password = SECRET
  return parsed.toString()
}

test('a database that cannot be reached or does not exist is named without its password', async t => {
  const unreachable = await cellstream(['db', 'migrate'], { DATABASE_URL: `postgres://app:${SECRET}@127.0.0.1:1/x` })
  t.is(unreachable.code, 3, unreachable.stderr)
  t.regex(unreachable.stderr, /^cellstream: PostgreSQL is not reachable at postgres:\/\/app@127\.0\.0\.1:1\/x/m)

  const missing = await cellstream(
    ['simulate', '--provision', '--from', '2021-02-19T20:00', '--to', '2021-02-19T20:01', '--out', '/dev/null'],
    { DATABASE_URL: withPassword(serverUrl(uniqueName('cellstream_missing').replaceAll('-', '_'))) }
  )
  t.not(missing.code, 0)
  for (const result of [unreachable, missing]) t.false((result.stdout + result.stderr).includes(SECRET), result.stderr)
})

test('a malformed DATABASE_URL is quoted without its password', async t => {
  const result = await cellstream(['db', 'migrate'], { DATABASE_URL: `postgres://app:${SECRET}@db.example:5432` })
  t.is(result.code, 2)
  t.is(result.stderr, "cellstream: DATABASE_URL must name a database, got 'postgres://app:***@db.example:5432'\n")
})

test('a password given by flag is warned about and not echoed, even when the command fails', async t => {
  const result = await cellstream(
    ['reset', '--group', uniqueName('nobody'), '--state-dir', '/nonexistent/state', '--kafka-sasl-password', SECRET],
    { KAFKA_BROKERS: (await kafkaBrokers()).join(','), KAFKA_SASL_USERNAME: 'cellstream' }
  )
  // The shared broker takes no login: the handshake fails, in one line.
  t.is(result.code, 3, result.stderr)
  t.regex(result.stderr, /--kafka-sasl-password can be seen by other users of this machine/)
  t.regex(result.stderr, /^cellstream: Kafka does not accept the SASL mechanism at .*SCRAM-SHA-512 as 'cellstream'/m)
  t.false((result.stdout + result.stderr).includes(SECRET))

  const db = await cellstream(['db', 'migrate', '--database-url', `postgres://app:${SECRET}@127.0.0.1:1/x`])
  t.regex(db.stderr, /--database-url holds a password, which other users of this machine can see/)
  t.false((db.stdout + db.stderr).includes(SECRET))
})
