import test from 'ava'
import { TopologyTestDriver } from '../../src/testing/test-driver.ts'
import { sampleTopology, event, MINUTE } from '../helpers/sample-topology.ts'
import { TimeWindows, TopologyBuilder, type StreamRecord } from '../../src/topology/index.ts'
import { jsonSerde, stringSerde } from '../../src/lib/serdes.ts'
import { CollectingSink } from '../../src/testing/collecting-sink.ts'
import { inMemoryStores, levelDbStores } from '../../src/stores/index.ts'
import { expectedTotals, usageEvents } from '../helpers/usage-data.ts'
import { lines } from '../helpers/sample-app.ts'
import { tempDir } from '../helpers/temp-dir.ts'

// Epoch seconds of 2021-02-19T21:00:00Z, a window boundary.
const T0 = 1613768400

const totals = (driver: TopologyTestDriver) =>
  driver
    .sinkRecords<string, number>('user-bytes', 'totals')
    .map(
      r => `${new Date(r.start).toISOString().slice(11, 16)} ${r.key}=${r.value}${r.correction ? ' (correction)' : ''}`
    )

test('windows are [start, end): an event at end - 1 s is in, one at end is in the next window', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology())
  driver.pipe('usage', { value: event('a', 1, T0) })
  driver.pipe('usage', { value: event('a', 2, T0 + 299) })
  driver.pipe('usage', { value: event('a', 4, T0 + 300) })
  driver.pipe('usage', { value: event('a', 8, T0 + 1000) }) // moves stream time past both windows + grace
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=3', '21:05 a=4'])
})

test('a window closes exactly when the watermark reaches end + grace, and is emitted once', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology())
  driver.pipe('usage', { value: event('a', 5, T0 + 10) })
  driver.pipe('usage', { value: event('a', 1, T0 + 359) }) // end + grace - 1 s
  await driver.commit()
  t.deepEqual(totals(driver), [], 'not closed one second before end + grace')
  driver.pipe('usage', { value: event('a', 1, T0 + 360) }) // exactly end + grace
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5'])
  driver.pipe('usage', { value: event('a', 1, T0 + 2000) })
  await driver.commit()
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5', '21:05 a=2'], 'no window emitted twice')
  t.is(driver.readOutput('user-bytes').length, 2)
})

test('grace lets an out-of-order event into a window that has ended but not closed', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology())
  driver.pipe('usage', { value: event('a', 5, T0 + 10) })
  driver.pipe('usage', { value: event('a', 1, T0 + 330) }) // 30 s after the window's end
  driver.pipe('usage', { value: event('a', 7, T0 + 20) }) // out of order, within grace
  driver.pipe('usage', { value: event('a', 1, T0 + 400) })
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=12'])
  t.is(driver.metrics.get('late:user-bytes'), 0)
})

test('the watermark is the minimum over partitions: one partition behind holds the window open', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology(), { partitions: { usage: 2 } })
  driver.pipe('usage', { partition: 0, value: event('a', 5, T0 + 10) })
  driver.pipe('usage', { partition: 0, value: event('a', 1, T0 + 1000) })
  driver.pipe('usage', { partition: 1, value: event('a', 3, T0 + 20) })
  await driver.commit()
  t.deepEqual(totals(driver), [], 'partition 1 is still inside the window')
  driver.pipe('usage', { partition: 1, value: event('a', 2, T0 + 100) })
  driver.pipe('usage', { partition: 1, value: event('b', 1, T0 + 1000) })
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=10'])
})

test('a key spread over all partitions is summed exactly (two-phase aggregation)', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology(), { partitions: { usage: 3 }, partialsPartitions: 2 })
  let expected = 0
  for (let i = 0; i < 90; i++) {
    driver.pipe('usage', { partition: i % 3, value: event('a', i, T0 + i) })
    expected += i
    if (i % 7 === 0) await driver.commit()
  }
  for (let p = 0; p < 3; p++) driver.pipe('usage', { partition: p, value: event('z', 0, T0 + 3600) })
  await driver.commit()
  t.is(expected, 4005)
  t.deepEqual(totals(driver), ['21:00 a=4005'])
})

test('an idle partition stops holding the watermark after the idle timeout', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology(), {
    partitions: { usage: 2 },
    idleTimeoutMs: 10_000,
    now: Date.UTC(2026, 0, 1)
  })
  driver.pipe('usage', { partition: 0, value: event('a', 5, T0 + 10) })
  await driver.commit()
  t.deepEqual(totals(driver), [], 'partition 1 has not reported yet')
  driver.advanceWallClock(9_999)
  await driver.commit()
  t.deepEqual(totals(driver), [], 'not idle before the timeout')
  driver.advanceWallClock(1)
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5'], 'both partitions idle: the wall clock closes the window')
})

test('an event after an idle close re-emits its window with the corrected total', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology(), {
    partitions: { usage: 2 },
    idleTimeoutMs: 10_000,
    now: Date.UTC(2026, 0, 1)
  })
  driver.advanceWallClock(10_000) // partition 1 has had no record since the start: idle
  driver.pipe('usage', { partition: 0, value: event('a', 5, T0 + 10) })
  driver.pipe('usage', { partition: 0, value: event('a', 1, T0 + 1000) })
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5'], 'closed on partition 0 alone')
  driver.pipe('usage', { partition: 1, value: event('a', 7, T0 + 20) }) // not late for partition 1
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5'], 'partition 1 is active again and holds the watermark')
  driver.pipe('usage', { partition: 1, value: event('a', 1, T0 + 1000) })
  for (const partition of [0, 1]) driver.pipe('usage', { partition, value: event('z', 0, T0 + 3600) })
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5', '21:00 a=12 (correction)', '21:15 a=2'])
  t.is(driver.metrics.get('corrections:user-bytes'), 1)
})

test('a late event goes to the late topic and the metric, and is not counted', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology())
  driver.pipe('usage', { value: event('a', 5, T0 + 10) })
  driver.pipe('usage', { value: event('a', 1, T0 + 360) }) // stream time = end + grace of 21:00
  const late = event('a', 100, T0 + 299)
  driver.pipe('usage', { value: late })
  driver.pipe('usage', { value: event('a', 1, T0 + 1000) })
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5', '21:05 a=1'])
  t.is(driver.metrics.get('late:user-bytes'), 1)
  const [record] = driver.readOutput('usage-late')
  t.is(record?.value?.toString(), late)
  t.is(record?.headers?.['cellstream.source.offset'], '2')
  t.is(record?.headers?.['cellstream.window.start'], String(T0 * 1000))
})

test("lateness is decided by the event's own partition, not by others", async t => {
  const driver = await TopologyTestDriver.create(sampleTopology(), { partitions: { usage: 2 } })
  driver.pipe('usage', { partition: 0, value: event('a', 1, T0 + 1000) })
  driver.pipe('usage', { partition: 1, value: event('a', 5, T0 + 10) }) // old, but partition 1 has seen nothing newer
  driver.pipe('usage', { partition: 1, value: event('a', 1, T0 + 1000) })
  await driver.commit()
  t.deepEqual(totals(driver), ['21:00 a=5'])
  t.is(driver.metrics.get('late:user-bytes'), 0)
})

test('left join: a hit carries the table value, a miss goes on with undefined', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology())
  driver.pipeTable('plans', 'a', JSON.stringify({ name: 'gold' }))
  driver.pipe('usage', { value: event('a', 1, T0) })
  driver.pipe('usage', { value: event('b', 2, T0) })
  await driver.commit()
  t.deepEqual(
    driver.readOutput('usage-enriched').map(r => JSON.parse(r.value!.toString()).plan),
    ['gold', 'unknown']
  )
})

test('inner join drops misses; a tombstone deletes the table entry', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology({ inner: true }))
  driver.pipeTable('plans', 'a', JSON.stringify({ name: 'gold' }))
  driver.pipe('usage', { value: event('a', 1, T0) })
  driver.pipe('usage', { value: event('b', 2, T0) })
  driver.pipeTable('plans', 'a', null)
  driver.pipe('usage', { value: event('a', 4, T0) })
  await driver.commit()
  t.deepEqual(
    driver.readOutput('usage-enriched').map(r => JSON.parse(r.value!.toString())),
    [{ user: 'a', bytes: 1, ts: T0, plan: 'gold' }]
  )
})

test('dead letters keep the original bytes, the reason and the source coordinates', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology(), { partitions: { usage: 2 } })
  driver.pipe('usage', { partition: 1, value: event('a', 1, T0) })
  driver.pipe('usage', { partition: 1, value: '{"user":' })
  driver.pipe('usage', { partition: 1, value: JSON.stringify({ user: 'a', bytes: 'x', ts: T0 }) })
  driver.pipe('usage', { partition: 1, value: event('a', -5, T0) })
  driver.pipe('usage', { partition: 1, value: null })
  driver.pipe('usage', { partition: 1, value: Buffer.from([0xff, 0x00, 0xfe]) })
  await driver.commit()
  const letters = driver.deadLetters()
  t.deepEqual(
    letters.map(l => [l.partition, Number(l.offset)]),
    [
      [1, 1],
      [1, 2],
      [1, 3],
      [1, 4],
      [1, 5]
    ]
  )
  t.regex(letters[0]!.reason, /^deserialize: .*JSON/)
  t.is(letters[1]!.reason, 'deserialize: not a usage event')
  t.is(letters[2]!.reason, 'map-values-1: negative bytes')
  t.is(letters[3]!.reason, 'deserialize: empty record (null value)')
  t.regex(letters[4]!.reason, /^deserialize: .*JSON/)
  t.is(letters[0]!.value!.toString(), '{"user":')
  t.deepEqual(letters[4]!.value, Buffer.from([0xff, 0x00, 0xfe]))
  t.is(letters[0]!.topic, 'usage')
  t.is(driver.metrics.get('dead-letter:deserialize'), 4)
  t.is(driver.metrics.get('dead-letter:map-values-1'), 1)
  t.is(driver.readOutput('usage-enriched').length, 1, 'processing continued')
})

test('windows after a quiet period still close once the stream moves on (no data loss across gaps)', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology())
  driver.pipe('usage', { value: event('a', 1, T0) })
  driver.pipe('usage', { value: event('a', 2, T0 + 86_400) })
  driver.pipe('usage', { value: event('a', 3, T0 + 2 * 86_400) })
  await driver.commit()
  // The first two days' windows closed (totals() shows times of day only, so dates here); the
  // last one stays open.
  t.deepEqual(
    driver
      .sinkRecords<string, number>('user-bytes', 'totals')
      .map(r => `${new Date(r.start).toISOString()} ${r.key}=${r.value}${r.correction ? ' (correction)' : ''}`),
    ['2021-02-19T21:00:00.000Z a=1', '2021-02-20T21:00:00.000Z a=2']
  )
})

test("toSink hands every record to the task's sink, flushed at the commit", async t => {
  const builder = new TopologyBuilder()
  const flushed: string[] = []
  let pending: string[] = []
  builder
    .stream('in', { value: stringSerde })
    .filter((_k, v) => v !== 'skip')
    .toSink('archive', () => ({
      add: record => {
        pending.push(`${record.value}@${record.raw.source.partition}:${record.raw.source.offset}`)
      },
      flush: async () => {
        flushed.push(...pending)
        pending = []
      }
    }))
  const driver = await TopologyTestDriver.create(builder.build(), { partitions: { in: 2 } })
  driver.pipe('in', { partition: 1, value: 'a' })
  driver.pipe('in', { partition: 1, value: 'skip' })
  driver.pipe('in', { partition: 0, value: 'b' })
  t.deepEqual(flushed, [], 'nothing is flushed before the commit')
  await driver.commit()
  t.deepEqual(flushed.sort(), ['a@1:0', 'b@0:0'])
})

test('a record late for several aggregations goes to the late topic once', async t => {
  const builder = new TopologyBuilder().lateRecords('late')
  const stream = builder.stream('in', { value: stringSerde, timestamp: v => Number(v) * 1000 })
  for (const name of ['first', 'second'])
    stream
      .groupBy(() => 'k', stringSerde)
      .windowedBy(TimeWindows.ofSizeAndGrace(300_000, 0))
      .count({ name })
  const driver = await TopologyTestDriver.create(builder.build())
  driver.pipe('in', { value: '1000' })
  driver.pipe('in', { value: '10' })
  await driver.commit()
  t.is(driver.readOutput('late').length, 1)
  t.is(driver.metrics.get('late:first') + driver.metrics.get('late:second'), 2)
})

test('hopping windows: every window a record falls in gets it, and each closes with its exact total', async t => {
  const windows = TimeWindows.ofSizeAndGrace(10 * MINUTE, MINUTE).advanceBy(5 * MINUTE)
  const driver = await TopologyTestDriver.create(sampleTopology({ windows }), {
    partitions: { usage: 3 },
    now: (T0 + 86_400) * 1000
  })
  const events = usageEvents(3000, 3, T0)
  for (const e of events) driver.pipe('usage', { partition: e.partition, value: event(e.user, e.bytes, e.ts) })
  await driver.commit()
  driver.advanceWallClock(60_000) // every partition idle: every window closes
  await driver.commit()
  const got = new Map(
    driver.sinkRecords<string, number>('user-bytes', 'totals').map(r => [`${r.start}|${r.key}`, r.value])
  )
  const { totals, late } = expectedTotals(events, { sizeS: 600, advanceS: 300 })
  t.true(late > 0)
  t.deepEqual(lines(got), lines(totals))
})

test('count, sum and reduce are aggregations with their options', async t => {
  const builder = new TopologyBuilder()
  const grouped = builder
    .stream('in', { value: jsonSerde<{ n: number }>(), timestamp: v => v.n * 1000 })
    .groupBy(() => 'k', stringSerde)
    .windowedBy(TimeWindows.ofSizeAndGrace(300_000, 0))
  grouped.count({ name: 'count' }).toSink('out', () => new CollectingSink())
  grouped.sum({ name: 'sum', of: v => v.n }).toSink('out', () => new CollectingSink())
  grouped
    .reduce({ name: 'max', reducer: (a, b) => (a.n >= b.n ? a : b), serde: jsonSerde() })
    .toSink('out', () => new CollectingSink())
  const driver = await TopologyTestDriver.create(builder.build(), { partitions: { in: 2 }, now: 86_400_000 })
  for (const n of [3, 9, 4, 600]) driver.pipe('in', { partition: n % 2, value: JSON.stringify({ n }) })
  await driver.commit()
  driver.advanceWallClock(60_000)
  await driver.commit()
  const first = (name: string): unknown => driver.sinkRecords(name, 'out').find(r => r.start === 0)?.value
  t.is(first('count'), 3)
  t.is(first('sum'), 16)
  t.deepEqual(first('max'), { n: 9 })
})

test('a restart rebuilds every task from what was committed, owner stores from their changelogs', async t => {
  for (const stores of [inMemoryStores, levelDbStores]) {
    const stateDir = await tempDir(t)
    const driver = await TopologyTestDriver.create(sampleTopology(), { partitions: { usage: 2 }, stores, stateDir })
    driver.pipe('usage', { partition: 0, value: event('ana', 5, T0) })
    driver.pipe('usage', { partition: 1, value: event('ana', 7, T0 + 10) })
    await driver.commit()
    t.is(driver.openWindows('user-bytes').length, 1)
    driver.pipe('usage', { partition: 0, value: event('ana', 1000, T0 + 20) }) // never committed
    await driver.restart()
    t.deepEqual(
      driver.openWindows('user-bytes').map(w => w.value),
      [12],
      `${stores.name}: the committed state, restored`
    )
    driver.pipe('usage', { partition: 0, value: event('ana', 1, T0 + 20) })
    for (let p = 0; p < 2; p++) driver.pipe('usage', { partition: p, value: event('bob', 0, T0 + 400) })
    await driver.commit()
    t.deepEqual(totals(driver), ['21:00 ana=13'], stores.name)
  }
})

test("a record a sink refuses goes to dead letters with the sink's name and error, and the others are written", async t => {
  const builder = new TopologyBuilder().deadLetters('dlq')
  const written: string[] = []
  let pending: Array<StreamRecord<unknown, string>> = []
  builder.stream('in', { value: stringSerde }).toSink('archive', () => ({
    add: record => {
      pending.push(record)
    },
    flush: async () => {
      const refused = pending.filter(r => r.value === 'poison').map(record => ({ record, error: 'cannot hold it' }))
      written.push(...pending.filter(r => r.value !== 'poison').map(r => r.value))
      pending = []
      return refused
    }
  }))
  const driver = await TopologyTestDriver.create(builder.build())
  for (const value of ['a', 'poison', 'b']) driver.pipe('in', { value })
  await driver.commit()
  t.deepEqual(written, ['a', 'b'])
  const [letter] = driver.deadLetters()
  t.is(letter?.reason, 'sink-refused: archive: cannot hold it')
  t.is(letter?.value?.toString(), 'poison')
  t.is(letter?.offset, 1n)
  t.is(driver.metrics.get('dead-letter:sink-refused:archive'), 1)
})
