import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, readTopic, testTopics, uniqueName } from '../helpers/kafka.ts'
import { pipelineArgs } from '../helpers/stream.ts'
import { createProducer } from '../../src/kafka/clients.ts'
import { ensureTopics, withAdmin } from '../../src/kafka/admin.ts'
import { headerValue } from '../../src/kafka/fetcher.ts'
import { DEAD_LETTER_HEADERS } from '../../src/runtime/source-task.ts'
import { TRUNCATED_HEADER } from '../../src/runtime/topic-limits.ts'
import { sleep } from '../../src/lib/processes.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))
const HOUR = 1613768400 // 2021-02-19T21:00:00Z
const FEDE = '00000000-0000-0000-0000-000000000004' // quota 5000 an hour: every hour goes over it
const ANDRES = '00000000-0000-0000-0000-000000000001'
const ANTENNA = '11111111-1111-1111-1111-111111111111'

test("rows PostgreSQL refuses and records over their topic's limit become dead letters, and everything else commits", async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  // The destinations refuse some data: a check constraint on each table, a tiny limit on the
  // alerts topic, and a dead-letter topic that takes less than the input.
  await db.none("ALTER TABLE bytes ADD CONSTRAINT no_poison CHECK (id <> 'POISON')")
  await db.none("ALTER TABLE quota_alerts ADD CONSTRAINT no_fede CHECK (email <> 'fede@gmail.com')")
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 2, config: { 'max.message.bytes': String(3 << 20) } },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  await withAdmin(brokers, admin =>
    ensureTopics(admin, [
      { name: `${group}-alerts`, partitions: 1, config: { 'max.message.bytes': '200' } },
      { name: `${input}-dlq`, partitions: 2 }
    ])
  )
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-refusals-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  await db.none(
    "INSERT INTO user_metadata (id, name, email, quota) VALUES ($1, 'fede', 'fede@gmail.com', 5000), ($2, 'andres', 'andres@gmail.com', 200000)",
    [FEDE, ANDRES]
  )

  // Two hours of traffic, computed here independently: totals per window and type.
  const expected = new Map<string, number>()
  const messages: Array<{ topic: string; partition: number; value: Buffer }> = []
  for (let i = 0; i < 1440; i++) {
    const event = {
      bytes: 100 + (i % 7),
      timestamp: HOUR + i * 5,
      app: i % 3 === 0 ? 'POISON' : 'SKYPE',
      id: i % 2 === 0 ? FEDE : ANDRES,
      antenna_id: ANTENNA
    }
    const start = new Date((event.timestamp - (event.timestamp % 300)) * 1000).toISOString()
    for (const [type, id] of [
      ['antenna_total_bytes', event.antenna_id],
      ['user_total_bytes', event.id],
      ['app_total_bytes', event.app]
    ]) {
      expected.set(`${start} ${type} ${id}`, (expected.get(`${start} ${type} ${id}`) ?? 0) + event.bytes)
    }
    messages.push({ topic: input!, partition: i % 2, value: Buffer.from(JSON.stringify(event)) })
  }
  const producer = createProducer(brokers, 'refusals')
  await producer.send({ messages })
  // A bad record of 2 MB: the input takes it, the dead-letter topic (1 MB) cannot whole.
  const huge = Buffer.alloc(2 << 20, 'x')
  await producer.send({ messages: [{ topic: input!, partition: 0, value: huge }] })
  await producer.close()
  const poisoned = [...expected.keys()].filter(key => key.endsWith(' POISON'))

  const stream = spawn(
    process.execPath,
    [BIN, 'stream', ...pipelineArgs({ input: input!, metadata: metadata!, group, dir, idleTimeout: 2, mirror: true })],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }
  )
  let log = ''
  stream.stderr.on('data', chunk => {
    log += chunk
  })
  t.teardown(() => stream.kill('SIGKILL'))
  const deadline = Date.now() + 120_000
  let letters = await readTopic(`${input}-dlq`)
  const totalsLetters = (): number =>
    letters.filter(l => headerValue(l, DEAD_LETTER_HEADERS.sink) === 'quota-totals').length
  // Both hours close: each refused first alert and each refused hour total is a dead letter.
  while (Date.now() < deadline && stream.exitCode === null && totalsLetters() < 2) {
    await sleep(1000)
    letters = await readTopic(`${input}-dlq`)
  }
  const rows = await db.map(
    'SELECT "timestamp", id, value, type FROM bytes',
    [],
    row => `${(row.timestamp as Date).toISOString()} ${row.type} ${row.id} ${row.value}`
  )
  t.is(stream.exitCode, null, log)
  t.deepEqual(
    rows.sort(),
    [...expected]
      .filter(([key]) => !key.endsWith(' POISON'))
      .map(([key, value]) => `${key} ${value}`)
      .sort(),
    'every row but the refused ones'
  )
  t.deepEqual(
    await db.map('SELECT email FROM quota_alerts', [], row => row.email as string),
    [],
    "the constraint refused fede's alerts"
  )

  const bySink = new Map<string, typeof letters>()
  for (const letter of letters) {
    const sink = headerValue(letter, DEAD_LETTER_HEADERS.sink) ?? 'validation'
    bySink.set(sink, [...(bySink.get(sink) ?? []), letter])
  }
  t.deepEqual([...bySink.keys()].sort(), [
    'bytes',
    'quota-alerts',
    'quota-totals',
    `topic ${group}-alerts`,
    'validation'
  ])
  // Each refused window: its value, its window and the database's reason.
  const refusedWindows = bySink
    .get('bytes')!
    .map(
      l =>
        `${new Date(Number(headerValue(l, 'cellstream.window.start'))).toISOString()} app_total_bytes ${l.key!.toString()}`
    )
  t.deepEqual(refusedWindows.sort(), poisoned.sort())
  for (const letter of bySink.get('bytes')!) {
    t.regex(headerValue(letter, DEAD_LETTER_HEADERS.reason)!, /^sink-refused: bytes: 23514 .*no_poison/)
    const key = `${new Date(Number(headerValue(letter, 'cellstream.window.start'))).toISOString()} app_total_bytes POISON`
    t.is(Number(letter.value!.readBigInt64BE()), expected.get(key)!)
  }
  t.is(bySink.get('quota-alerts')!.length, 2, 'one refused first alert per hour')
  t.is(bySink.get('quota-totals')!.length, 2, 'one refused hour total per hour')
  t.is(bySink.get(`topic ${group}-alerts`)!.length, 2, "the alerts over the topic's limit")
  t.regex(
    headerValue(bySink.get(`topic ${group}-alerts`)![0]!, DEAD_LETTER_HEADERS.reason)!,
    /over the topic's max.message.bytes \(200\)/
  )
  // The 2 MB record: its reason, its coordinates and the head of its bytes, marked truncated.
  const [big] = bySink.get('validation')!
  t.is(headerValue(big!, DEAD_LETTER_HEADERS.reason), 'not-json: payload is not JSON')
  t.is(headerValue(big!, TRUNCATED_HEADER), String(huge.length))
  t.true(big!.value!.length > 500_000 && huge.subarray(0, big!.value!.length).equals(big!.value!))
  t.is((await fetch(`http://127.0.0.1:${/http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log)![1]}/ready`)).status, 200)
  stream.kill('SIGTERM')
  const [code] = await once(stream, 'exit')
  t.is(code, 0, log)
})
