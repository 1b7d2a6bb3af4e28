// Kafka over SASL/SCRAM and TLS, against a private secured broker: the pipeline stays exact,
// wrong credentials fail at once in one line, and no secret shows in anything it prints or
// serves.
import test from 'ava'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream, type CliResult } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { uniqueName } from '../helpers/kafka.ts'
import { startSecureKafka, type SecureKafka } from '../helpers/secure-kafka.ts'
import { pipelineArgs, startCommand, startStream, stopStream, tableLines } from '../helpers/stream.ts'
import { exitReason, waitFor } from '../helpers/wait.ts'
import { ensureTopics, withAdmin } from '../../src/kafka/admin.ts'

let kafka: SecureKafka | undefined
test.before(async () => {
  kafka = await startSecureKafka()
})
test.after.always(async () => {
  await kafka?.stop()
})

// Recognisable secrets: the server trusts local logins, so a password in the URL is accepted
// and ignored by it, but the processes must keep it to themselves.
const DB_PASSWORD = 'dbSecret-7f3a9c1e'
const AWS_SECRET = 'awsSecret-2b8d4e6f0a'

const withPassword = (url: string): string => {
  const parsed = new URL(url)
  parsed.password = DB_PASSWORD
  return parsed.toString()
}

/** The secrets a run was given, none of which may appear in `text`. */
function leaks(text: string): string[] {
  return [kafka!.password, DB_PASSWORD, AWS_SECRET].filter(secret => text.includes(secret))
}

test('a seeded backfill through `stream` over SASL_SSL fills `bytes` exactly as `truth` computes it, and nothing it prints or serves holds a secret', async t => {
  const { brokers, security } = kafka!
  const { url, db } = await testDatabase(t)
  const input = uniqueName('devices')
  const metadata = uniqueName('user-metadata')
  await withAdmin(
    brokers,
    admin =>
      ensureTopics(admin, [
        { name: input, partitions: 4 },
        { name: metadata, partitions: 1, config: { 'cleanup.policy': 'compact' } }
      ]),
    security
  )
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-secure-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { ...kafka!.env, DATABASE_URL: withPassword(url), AWS_SECRET_ACCESS_KEY: AWS_SECRET, LOG_LEVEL: 'debug' }
  const outputs: string[] = []
  const run = async (args: string[]): Promise<CliResult> => {
    const result = await cellstream(args, env)
    outputs.push(result.stdout, result.stderr)
    t.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
    return result
  }
  const traffic = ['--seed', 'secure-test', '--from', '2021-02-19T20:00', '--to', '2021-02-19T21:00']
  const more = ['--bad-ratio', '0.02', '--late-ratio', '0.02', '--rate', '4']
  const file = join(dir, 'records.jsonl')
  await run(['simulate', ...traffic, ...more, '--out', file])
  await run(['simulate', ...traffic, ...more, '--topic', input, '--partitions', '4', '--provision'])
  const truth = await run(['truth', '--in', file, '--partitions', '4', '--format', 'json'])
  const expected = JSON.parse(truth.stdout) as { bytes: Array<Record<string, string | number>> }
  const expectedLines = expected.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort()

  const group = uniqueName('group')
  const stream = startStream(t, pipelineArgs({ input, metadata, group, dir, idleTimeout: 3, mirror: true }), env)
  const port = await stream.port()
  await waitFor('bytes to fill', async () => (await tableLines(db, 'bytes')).length >= expectedLines.length, {
    deadlineMs: 120_000,
    intervalMs: 500,
    failed: () => exitReason(stream.child),
    detail: stream.log
  })
  t.deepEqual(await tableLines(db, 'bytes'), expectedLines)
  for (const path of ['/metrics', '/health', '/ready', '/instances', '/nope']) {
    outputs.push(await (await fetch(`http://127.0.0.1:${port}${path}`)).text())
  }
  // The dashboard reads the same group over SASL_SSL, the instance's open windows included.
  const web = startCommand(t, ['web', '--http-port', '0', '--group', group, '--input-topic', input], env)
  const base = await waitFor(
    'the dashboard to print its address',
    () => /dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(web.log())?.[1],
    { deadlineMs: 60_000, detail: web.log }
  )
  const snapshot = await waitFor(
    'the dashboard to serve a snapshot',
    async () => {
      const response = await fetch(new URL('/api/snapshot', base))
      return response.ok ? await response.text() : undefined
    },
    { deadlineMs: 30_000, detail: web.log }
  )
  t.deepEqual((JSON.parse(snapshot) as { problems?: string[] }).problems, [], snapshot)
  outputs.push(snapshot, await (await fetch(base)).text(), await (await fetch(new URL('/health', base))).text())
  web.child.kill('SIGTERM')
  await once(web.child, 'exit')
  outputs.push(web.log())
  t.is(await stopStream(stream), 0, stream.log())
  outputs.push(stream.log())
  await run(['tail', 'dead-letters', '--input-topic', input, '--json'])
  await run(['reset', '--group', group, '--state-dir', join(dir, 'state')])

  t.true(outputs.join('').includes('"level":"info"'), 'the logs were read')
  t.deepEqual(leaks(outputs.join('\n')), [])
})

test('both SCRAM mechanisms log in; a wrong password, a missing password or an untrusted broker fail at once in one line', async t => {
  const { brokers, env } = kafka!
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-secure-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const status = (extra: Record<string, string>, args: string[] = []): Promise<CliResult> =>
    cellstream(['reset', '--group', uniqueName('nobody'), '--state-dir', join(dir, 'state'), ...args], {
      ...env,
      ...extra
    })

  for (const mechanism of ['SCRAM-SHA-512', 'SCRAM-SHA-256']) {
    const ok = await status({ KAFKA_SASL_MECHANISM: mechanism })
    t.is(ok.code, 0, `${mechanism}: ${ok.stderr}`)
  }

  const wrongFile = join(dir, 'wrong.password')
  await writeFile(wrongFile, 'wrongSecret-5c7e9a1b\n')
  const failures: Array<[string, Promise<CliResult>, RegExp]> = [
    [
      'a wrong password',
      status({ KAFKA_SASL_PASSWORD_FILE: wrongFile }),
      /^cellstream: Kafka refused the login at 127\.0\.0\.1:\d+ \(SASL SCRAM-SHA-512 as 'cellstream' over TLS\): /
    ],
    [
      'an unknown user',
      status({ KAFKA_SASL_USERNAME: 'ghost' }),
      /^cellstream: Kafka refused the login at .* as 'ghost' over TLS/
    ],
    [
      'no SASL at all',
      status({ KAFKA_SASL_MECHANISM: '', KAFKA_SASL_USERNAME: '', KAFKA_SASL_PASSWORD_FILE: '' }),
      /^cellstream: cannot connect to Kafka at .* \(TLS\): the broker closed the connection \(if it requires a login/
    ],
    [
      'a broker whose CA is not trusted',
      status({ KAFKA_TLS_CA_FILE: '', KAFKA_TLS: 'true' }),
      /^cellstream: cannot connect to Kafka at .*: unable to verify the first certificate \(KAFKA_TLS_CA_FILE names/
    ],
    [
      'a plaintext client',
      status({ KAFKA_TLS_CA_FILE: '' }),
      /^cellstream: cannot connect to Kafka at .*(Broker requires TLS|if it takes TLS only, set KAFKA_TLS=true)/
    ],
    [
      'a missing password',
      status({ KAFKA_SASL_PASSWORD_FILE: '' }),
      /^cellstream: SASL SCRAM-SHA-512 needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/
    ]
  ]
  for (const [what, result, line] of failures) {
    const { code, stderr } = await result
    const lines = stderr.split('\n').filter(l => l !== '')
    t.is(code, what === 'a missing password' ? 2 : 3, `${what}: ${stderr}`)
    t.is(lines.length, 1, `${what}: one line, got ${stderr}`)
    t.regex(lines[0] ?? '', line, what)
    t.false(stderr.includes('wrongSecret'), `${what}: the password is not shown`)
  }
  t.is(brokers.length, 1)
})

test('a password on the command line works but is warned about, and never echoed', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-secure-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const result = await cellstream(
    [
      'reset',
      '--group',
      uniqueName('nobody'),
      '--state-dir',
      join(dir, 'state'),
      '--kafka-sasl-password',
      kafka!.password
    ],
    { ...kafka!.env, KAFKA_SASL_PASSWORD_FILE: '' }
  )
  t.is(result.code, 0, result.stderr)
  t.regex(result.stderr, /--kafka-sasl-password can be seen by other users of this machine/)
  t.deepEqual(leaks(result.stdout + result.stderr), [])
})
