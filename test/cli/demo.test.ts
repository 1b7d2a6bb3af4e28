import test, { type ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, readTopic, uniqueName } from '../helpers/kafka.ts'
import { tableLines } from '../helpers/stream.ts'
import { GroundTruth, HOUR_SECONDS, WINDOW_SECONDS } from '../../src/truth/ground-truth.ts'
import { validateEvent } from '../../src/truth/validate.ts'
import { makeUsers } from '../../src/simulator/population.ts'
import type { Db } from '../../src/db/pool.ts'

const GRACE = 60
/** Late events of the demo's traffic are stamped at most this long before their turn. */
const LATE_HORIZON = 3600

interface Traffic {
  records: Awaited<ReturnType<typeof readTopic>>
  first: number
  last: number
}

/** The demo's input as it stands, with its first and last valid event times. */
async function traffic(topic: string): Promise<Traffic> {
  const records = await readTopic(topic)
  let first = Infinity
  let last = -Infinity
  for (const record of records) {
    const result = validateEvent(record.value ?? Buffer.alloc(0), {
      recordSeconds: Math.floor(record.timestamp / 1000)
    })
    if (!result.ok) continue
    first = Math.min(first, result.event.timestamp)
    last = Math.max(last, result.event.timestamp)
  }
  return { records, first, last }
}

/**
 * The tables agree with the truth of the topic: every 5-minute window the stream had to close
 * (its end + grace a minute behind every partition's last event) holds the truth's total, and
 * so does every compacted hour that no later event could reach (late events come at most an
 * hour after their time; `liveFrom` is when the last run's live traffic began).
 */
async function assertConsistent(t: ExecutionContext, db: Db, input: Traffic, liveFrom: number): Promise<void> {
  const truth = new GroundTruth({ graceSeconds: GRACE, users: makeUsers(200) })
  const streamTimes = new Map<number, number>()
  for (const record of input.records) {
    const recordSeconds = Math.floor(record.timestamp / 1000)
    truth.add(record.value ?? Buffer.alloc(0), record.source.partition, recordSeconds)
    const result = validateEvent(record.value ?? Buffer.alloc(0), { recordSeconds })
    if (result.ok)
      streamTimes.set(
        record.source.partition,
        Math.max(streamTimes.get(record.source.partition) ?? 0, result.event.timestamp)
      )
  }
  const closedBefore = Math.min(...streamTimes.values()) - 60
  const result = truth.result()
  const windowEnd = (line: string): number => Date.parse(line.split(' ')[0]!) / 1000 + WINDOW_SECONDS
  const closedWindows = (lines: string[]): string[] => lines.filter(line => windowEnd(line) + GRACE <= closedBefore)
  t.deepEqual(
    closedWindows(await tableLines(db, 'bytes')),
    closedWindows(result.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort())
  )
  const settled = (line: string): boolean =>
    Date.parse(line.split(' ')[0]!) / 1000 + HOUR_SECONDS + GRACE <= liveFrom - LATE_HORIZON
  const hourly = (await tableLines(db, 'bytes_hourly')).filter(settled)
  t.true(hourly.length > 0, 'some compacted hour is settled')
  const compacted = new Set(hourly.map(line => line.split(' ')[0]))
  t.deepEqual(
    hourly,
    result.bytesHourly
      .map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`)
      .filter(line => settled(line) && compacted.has(line.split(' ')[0]))
      .sort()
  )
}

test('a second demo resumes where the first stopped, --fresh starts over, and the tables stay consistent with the topic each time', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const namespace = uniqueName('demo')
  cleanUpAfter(t, [namespace])
  const cwd = await mkdtemp(join(tmpdir(), 'cellstream-demo-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const demo = async (...extra: string[]): Promise<number> => {
    const started = Math.floor(Date.now() / 1000)
    const result = await cellstream(
      ['demo', '--hours', '2', '--duration', '10', '--namespace', namespace, ...extra],
      env,
      { cwd, timeoutMs: 300_000 }
    )
    t.is(result.code, 0, result.stderr)
    return started
  }
  const input = `${namespace}-devices`

  const firstRun = await demo()
  const first = await traffic(input)
  await assertConsistent(t, db, first, Math.floor(firstRun / 60) * 60)

  const secondRun = await demo()
  const second = await traffic(input)
  const seen = new Set(first.records.map(r => `${r.source.partition}:${r.source.offset}`))
  const appended = second.records.filter(r => !seen.has(`${r.source.partition}:${r.source.offset}`))
  const resent = appended.filter(record => {
    const result = validateEvent(record.value ?? Buffer.alloc(0), {
      recordSeconds: Math.floor(record.timestamp / 1000)
    })
    return result.ok && result.event.timestamp < first.last - LATE_HORIZON
  })
  t.true(appended.length > 0)
  t.is(resent.length, 0, 'the second run sends no hour the first one sent')
  await assertConsistent(t, db, second, Math.floor(secondRun / 60) * 60)

  const freshRun = await demo('--fresh')
  const fresh = await traffic(input)
  t.true(
    fresh.first >= Math.floor(freshRun / 60) * 60 - 2 * 3600 - LATE_HORIZON,
    "after --fresh the topic holds only the new run's traffic"
  )
  t.true(fresh.records.length < second.records.length)
  await assertConsistent(t, db, fresh, Math.floor(freshRun / 60) * 60)
})
