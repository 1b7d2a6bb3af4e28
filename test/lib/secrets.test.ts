import test from 'ava'
import { redact, registerEnvSecrets, registerSecret, registerUrlSecret } from '../../src/lib/secrets.ts'

test('a registered secret is hidden as written, URL-encoded and JSON-escaped', t => {
  registerSecret('p@ss "word"/1')
  t.is(redact('login p@ss "word"/1 failed'), 'login *** failed')
  t.is(redact('postgres://u@h/db?password=p%40ss%20%22word%22%2F1'), 'postgres://u@h/db?password=***')
  t.is(redact(JSON.stringify({ error: 'bad p@ss "word"/1' })), '{"error":"bad ***"}')
})

test("any URL's password is hidden, registered or not; the rest of the URL stays", t => {
  t.is(
    redact("DATABASE_URL must name a database, got 'postgres://app:unregistered-9@db.example:5432'"),
    "DATABASE_URL must name a database, got 'postgres://app:***@db.example:5432'"
  )
  t.is(redact('postgres://app@db.example:5432/cellstream'), 'postgres://app@db.example:5432/cellstream')
})

test('secrets come from DATABASE_URL and from variables named for them; short values are left alone', t => {
  registerEnvSecrets({
    DATABASE_URL: 'postgres://app:url%2Dsecret-1@h/db',
    AWS_SECRET_ACCESS_KEY: 'aws-secret-key-1',
    KAFKA_SASL_PASSWORD: 'kafka-pass-1',
    CELLSTREAM_GROUP: 'group-name-1',
    SHORT_PASSWORD: 'abc'
  })
  registerUrlSecret('not a url')
  t.is(redact('url-secret-1 aws-secret-key-1 kafka-pass-1 group-name-1 abc'), '*** *** *** group-name-1 abc')
})
