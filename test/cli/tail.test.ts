import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, produceRecordFile, testTopics, uniqueName } from '../helpers/kafka.ts'
import { pipelineArgs, startStream } from '../helpers/stream.ts'
import { waitFor } from '../../src/lib/processes.ts'
import { REFERENCE_USERS } from '../../src/lib/reference.ts'
import { readRecordFile } from '../../src/simulator/record-file.ts'
import { truthFromFile } from '../../src/truth/from-file.ts'
import { validateEvent } from '../../src/truth/validate.ts'

const PARTITIONS = 2

test('tail prints what the stream wrote to its topics: each dead letter with its reason, source and payload, late events, alerts and user metadata', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata, alerts] = await testTopics(t, [
    { prefix: 'devices', partitions: PARTITIONS },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } },
    { prefix: 'quota-alerts', partitions: 1 }
  ])
  const group = uniqueName('tail')
  cleanUpAfter(t, [group, input!])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-tail-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const file = join(dir, 'records.jsonl')
  t.is(
    (
      await cellstream(
        [
          'simulate',
          '--seed',
          'tail',
          '--from',
          '2021-02-19T20:00',
          '--to',
          '2021-02-19T20:40',
          '--rate',
          '2',
          '--bad-ratio',
          '0.05',
          '--late-ratio',
          '0.03',
          '--out',
          file,
          '--provision'
        ],
        env
      )
    ).code,
    0
  )
  const truth = await truthFromFile(file, { partitions: PARTITIONS })
  await produceRecordFile(input!, file, PARTITIONS)

  // What each dead letter must say: record n is at offset n / P of partition n % P.
  const expected: Array<{
    source: { topic: string; partition: number; offset: string }
    reason: string
    payload: string
  }> = []
  let n = 0
  for await (const payload of readRecordFile(file)) {
    const validation = validateEvent(payload, { recordSeconds: Date.now() / 1000 })
    if (!validation.ok)
      expected.push({
        source: { topic: input!, partition: n % PARTITIONS, offset: String(Math.floor(n / PARTITIONS)) },
        reason: validation.reason,
        payload: payload.toString('base64')
      })
    n++
  }
  t.is(expected.length, truth.summary.invalid)

  const stream = startStream(
    t,
    pipelineArgs({ input: input!, metadata: metadata!, alerts: alerts!, group, dir, idleTimeout: 2, mirror: true }),
    env
  )
  // Hang guard only.
  t.truthy(
    await waitFor(
      async () =>
        (await db.one('SELECT count(*) AS n FROM bytes', [], row => row.n as number)) >= truth.bytes.length
          ? true
          : undefined,
      { timeoutMs: 180_000, intervalMs: 500 }
    )
  )
  stream.child.kill('SIGTERM')

  const tail = async (...args: string[]): Promise<string> => {
    const result = await cellstream(['tail', ...args], env)
    t.is(result.code, 0, result.stderr)
    return result.stdout
  }
  const jsonLines = (text: string): Array<Record<string, unknown>> =>
    text
      .split('\n')
      .filter(line => line !== '')
      .map(line => JSON.parse(line) as Record<string, unknown>)

  const deadLetters = jsonLines(await tail('dead-letters', '--input-topic', input!, '--json')).map(d => ({
    source: d.source,
    reason: String(d.reason).split(': ')[0],
    payload: typeof d.payload === 'string' ? Buffer.from(d.payload).toString('base64') : String(d.payloadBase64)
  }))
  const bySource = (a: { source: unknown }, b: { source: unknown }): number =>
    JSON.stringify(a.source) < JSON.stringify(b.source) ? -1 : 1
  t.deepEqual(deadLetters.sort(bySource), expected.sort(bySource))

  const text = await tail('dead-letters', '--input-topic', input!)
  t.is(
    text.match(new RegExp(`^\\S+ ${input}-dlq-\\d+@\\d+ from ${input}-\\d+@\\d+: \\S+`, 'gm'))?.length,
    expected.length
  )

  t.is(jsonLines(await tail('late-events', '--input-topic', input!, '--json')).length, truth.summary.late)

  const alerted = await db.map(
    'SELECT email, "timestamp" FROM quota_alerts',
    [],
    row => `${row.email} ${(row.timestamp as Date).toISOString().replace('.000Z', 'Z')}`
  )
  const tailed = jsonLines(await tail('quota-alerts', '--topic', alerts!, '--json')).map(a => `${a.email} ${a.hour}`)
  t.true(alerted.length > 0)
  t.deepEqual(tailed.sort(), alerted.sort())

  const users = jsonLines(await tail('user-metadata', '--topic', metadata!, '--json')).map(
    u => (u.user as { email: string }).email
  )
  t.deepEqual(users.sort(), REFERENCE_USERS.map(u => u.email).sort())
})

test('tail explains a missing topic, an unknown kind and an unreachable Kafka in one line', async t => {
  const missing = await cellstream(['tail', 'dead-letters', '--input-topic', uniqueName('nowhere')], {
    KAFKA_BROKERS: (await kafkaBrokers()).join(',')
  })
  t.is(missing.code, 1)
  t.regex(
    missing.stderr,
    /^cellstream: topic nowhere-\w+-dlq does not exist \(the stream processor creates it when it starts; --topic names another\)\n$/
  )
  const kind = await cellstream(['tail', 'everything'])
  t.is(kind.code, 2)
  t.regex(
    kind.stderr,
    /^cellstream: command-argument value 'everything' is invalid for argument 'what'\. Allowed choices are dead-letters, late-events, quota-alerts, user-metadata\.[^\n]*\n$/
  )
  const kafka = await cellstream(['tail', 'quota-alerts', '--brokers', '127.0.0.1:1'])
  t.is(kafka.code, 3)
  t.regex(kafka.stderr, /^cellstream: Kafka is not reachable at 127\.0\.0\.1:1: [^\n]+\n$/)
})
