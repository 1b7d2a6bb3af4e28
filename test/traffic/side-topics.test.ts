// What the stream writes besides its tables, read straight from the broker: the dead-letter
// topic, the late topic and the quota alerts, each against what the ground truth makes of the
// same records.
import test from 'ava'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { exitReason, waitFor } from '../helpers/wait.ts'
import { cleanUpAfter, kafkaBrokers, produceRecordFile, readTopic, testTopics, uniqueName } from '../helpers/kafka.ts'
import { pipelineArgs, startStream, stopStream, tableLines } from '../helpers/stream.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { headerValue } from '../../src/kafka/fetcher.ts'
import { REFERENCE_USERS } from '../../src/lib/reference.ts'
import type { RawRecord } from '../../src/lib/records.ts'
import { readRecordFile } from '../../src/simulator/record-file.ts'
import { GroundTruth } from '../../src/truth/ground-truth.ts'

const PARTITIONS = 2

/** Where a record of the input came from, as its dead letter or late copy names it. */
const source = (r: RawRecord): string =>
  `${headerValue(r, 'cellstream.source.topic')}-${headerValue(r, 'cellstream.source.partition')}@${headerValue(r, 'cellstream.source.offset')}`

test('each bad record reaches the dead-letter topic once with its reason and bytes, each late event the late topic, each alert its topic', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata, alerts] = await testTopics(t, [
    { prefix: 'devices', partitions: PARTITIONS },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } },
    { prefix: 'quota-alerts', partitions: 1 }
  ])
  const group = uniqueName('side')
  cleanUpAfter(t, [group, `${input}-`])
  const dir = await tempDir(t)
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const file = join(dir, 'records.jsonl')
  const simulate = await cellstream(
    [
      'simulate',
      '--seed',
      'side-topics',
      '--from',
      '2021-02-19T20:00',
      '--to',
      '2021-02-19T21:30',
      '--rate',
      '3',
      '--bad-ratio',
      '0.03',
      '--late-ratio',
      '0.03',
      '--out',
      file,
      '--provision'
    ],
    env
  )
  t.is(simulate.code, 0, simulate.stderr)

  // The truth of each record: record n is at offset n / P of partition n % P.
  const truth = new GroundTruth({ users: REFERENCE_USERS })
  const dead: string[] = []
  const late: string[] = []
  let n = 0
  for await (const payload of readRecordFile(file)) {
    const at = `${input}-${n % PARTITIONS}@${Math.floor(n / PARTITIONS)}`
    const verdict = truth.add(payload, n % PARTITIONS)
    if (typeof verdict === 'object') dead.push(`${at} ${verdict.invalid} ${Buffer.from(payload).toString('base64')}`)
    if (verdict === 'late') late.push(`${at} ${Buffer.from(payload).toString('base64')}`)
    n++
  }
  const expected = truth.result()
  t.true(dead.length > 0 && late.length > 0 && expected.quotaAlerts.length > 0, 'the input has every kind')
  t.is(await produceRecordFile(input!, file, PARTITIONS), n)

  const stream = startStream(
    t,
    pipelineArgs({ input: input!, metadata: metadata!, alerts: alerts!, group, dir, idleTimeout: 2, mirror: true }),
    env
  )
  // Every hour closed: the alerts table then holds each hour's total, as the truth has it.
  const quotaLine = (r: { timestamp: string; email: string; usage: number; quota: number }): string =>
    `${r.timestamp} ${r.email} ${r.usage} ${r.quota}`
  const finalAlerts = expected.quotaAlerts.map(quotaLine).sort()
  await waitFor(
    'quota_alerts to hold the closed hours as the truth computes them',
    async () =>
      JSON.stringify(await tableLines(db, 'quota_alerts')) === JSON.stringify(finalAlerts) ? true : undefined,
    { deadlineMs: 180_000, intervalMs: 500, failed: () => exitReason(stream.child) }
  )
  t.is(await stopStream(stream), 0, stream.log())

  // Each topic read to its end after the last commit.
  const letters = await readTopic(`${input}-dlq`)
  t.deepEqual(
    letters
      .map(
        r => `${source(r)} ${headerValue(r, 'cellstream.error.reason')?.split(': ')[0]} ${r.value!.toString('base64')}`
      )
      .sort(),
    dead.sort()
  )
  const lateCopies = await readTopic(`${input}-late`)
  t.deepEqual(lateCopies.map(r => `${source(r)} ${r.value!.toString('base64')}`).sort(), late.sort())

  // An alert says who went over in which hour; its usage is the one seen at that moment.
  const alertRecords = (await readTopic(alerts!)).map(r => {
    const value = JSON.parse(r.value!.toString()) as { email: string; usage: number; quota: number }
    const hour = new Date(Number(headerValue(r, 'cellstream.window.start'))).toISOString().replace('.000Z', 'Z')
    return { user: r.key!.toString(), hour, ...value }
  })
  t.deepEqual(
    alertRecords.map(a => `${a.hour} ${a.email} ${a.quota}`).sort(),
    expected.quotaAlerts.map(r => `${r.timestamp} ${r.email} ${r.quota}`).sort()
  )
  t.deepEqual(
    alertRecords.filter(a => !(a.usage > a.quota) || REFERENCE_USERS.find(u => u.id === a.user)?.email !== a.email),
    [],
    'each alert is keyed by its user and carries a usage over the quota'
  )
})
