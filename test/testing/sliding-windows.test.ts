import test from 'ava'
import { TopologyTestDriver } from '../../src/testing/test-driver.ts'
import { sampleTopology, event } from '../helpers/sample-topology.ts'
import { SlidingWindows, TopologyBuilder } from '../../src/topology/index.ts'
import { jsonSerde, stringSerde } from '../../src/lib/serdes.ts'
import { expectedSlidingTotals, type UsageEvent } from '../helpers/usage-data.ts'
import { lines } from '../helpers/sample-app.ts'
import { onceEach, outputWindows, pipeAll, restartHalfway } from '../helpers/driver-windows.ts'
import { CollectingSink } from '../../src/testing/collecting-sink.ts'

// Epoch seconds of 2021-02-19T21:00:00Z.
const T0 = 1613768400
const DIFFERENCE_S = 120
// The grace the expected totals assume (usage-data.ts).
const windows = SlidingWindows.ofTimeDifferenceAndGrace(DIFFERENCE_S * 1000, 60_000)

test('sliding windows: a window ending at each record and one after it, out of order within grace, late records out', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology({ windows }), {
    partitions: { usage: 2 },
    now: (T0 + 86_400) * 1000
  })
  const at = (partition: number, user: string, bytes: number, s: number): UsageEvent => ({
    partition,
    user,
    bytes,
    ts: T0 + s
  })
  const events = [
    at(0, 'a', 1, 0),
    at(0, 'a', 2, 30),
    at(1, 'b', 64, 40),
    at(0, 'b', 4, 50),
    at(1, 'a', 128, 10),
    at(0, 'a', 8, 200),
    at(0, 'a', 16, 150), // 50 s behind its partition: within grace
    at(0, 'a', 32, 100), // 100 s behind: late
    at(1, 'b', 256, 40) // a second record at the same time
  ]
  pipeAll(driver, events)
  await driver.commit()
  driver.advanceWallClock(60_000) // every partition idle: every window closes
  await driver.commit()

  const records = driver.sinkRecords<string, number>('user-bytes', 'totals')
  // Window bounds in ms from T0, both ends inclusive.
  const a = records
    .filter(r => r.key === 'a')
    .map(r => `${r.start - T0 * 1000}..${r.end - 1 - T0 * 1000}=${r.value}`)
    .sort()
  // By hand: a's records at 0, 10, 30, 150 and 200 s; the one at 100 s is late. d = 120 s.
  t.deepEqual(
    a,
    [
      '-120000..0=1', // ending at each record
      '-110000..10000=129',
      '-90000..30000=131',
      '30000..150000=18',
      '80000..200000=24',
      '1..120001=130', // starting after each record, when it holds one
      '10001..130001=2',
      '30001..150001=16',
      '150001..270001=8'
    ].sort()
  )
  const { totals, late } = expectedSlidingTotals(events, DIFFERENCE_S)
  t.is(late, 1)
  onceEach(t, outputWindows(driver), totals)
  t.is(driver.readOutput('usage-late').length, 1)
  t.is(
    driver.readOutput('usage-late')[0]!.headers!['cellstream.window.start'],
    String((T0 + 100 - DIFFERENCE_S) * 1000)
  )
  t.is(driver.metrics.get('late:user-bytes'), 1)
  t.true(
    driver.openWindows('user-bytes').every(w => w.emitted),
    'closed on idleness: kept until the strict watermark passes'
  )
  for (let p = 0; p < 2; p++) driver.pipe('usage', { partition: p, value: event('z', 1, T0 + 10_000) })
  await driver.commit()
  t.deepEqual(
    driver.openWindows('user-bytes').map(w => w.key),
    ['z'],
    'the earlier points forgotten once the strict watermark passed their windows'
  )
})

test('sliding windows over 3000 records on 3 partitions, with a restart halfway: each window once, with its exact total', async t => {
  await restartHalfway(t, 'windows', windows, events => expectedSlidingTotals(events, DIFFERENCE_S))
})

test('a record that arrives after an idle close re-emits the windows it changes, as corrections', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology({ windows }), {
    partitions: { usage: 2 },
    now: (T0 + 86_400) * 1000
  })
  const first: UsageEvent[] = [
    { partition: 0, user: 'a', bytes: 1, ts: T0 },
    { partition: 0, user: 'a', bytes: 2, ts: T0 + 100 },
    { partition: 0, user: 'b', bytes: 1, ts: T0 + 1000 }
  ]
  pipeAll(driver, first)
  await driver.commit()
  driver.advanceWallClock(60_000) // both partitions idle: every window closes
  await driver.commit()
  const before = outputWindows(driver).size
  // Partition 1 has seen nothing: this record is not late by its partition's rule.
  const second: UsageEvent = { partition: 1, user: 'a', bytes: 4, ts: T0 + 50 }
  pipeAll(driver, [second])
  await driver.commit()
  t.is(outputWindows(driver).size, before, 'the windows re-open until the watermark passes them again')
  driver.advanceWallClock(60_000)
  await driver.commit()
  t.true(outputWindows(driver).size > before, 'the windows the record makes are emitted too')
  t.true(driver.metrics.get('corrections:user-bytes') > 0)
  // An upserting sink ends with the totals of every record.
  const last = [...outputWindows(driver)].map(([id, values]): [string, number] => [id, values.at(-1)!])
  t.deepEqual(lines(last), lines(expectedSlidingTotals([...first, second], DIFFERENCE_S).totals))
})

test('a watch needs fixed windows', t => {
  const grouped = new TopologyBuilder()
    .stream('in', { value: jsonSerde<{ n: number }>() })
    .groupBy(() => 'k', stringSerde)
    .windowedBy(windows)
  t.throws(() => grouped.count({ name: 'count' }).watch('w', () => undefined), { message: /watch needs fixed windows/ })
})

test('open sliding windows are shown assembled, as they stand, until the strict watermark makes them final', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology({ windows }), { now: (T0 + 86_400) * 1000 })
  const events = [0, 60, 150, 200].map((s, i) => ({ partition: 0, user: 'a', bytes: 10 ** i, ts: T0 + s }))
  pipeAll(driver, events)
  await driver.commit()
  const open = (): string[] =>
    driver
      .openWindows('user-bytes')
      .map(w => `${w.start - T0 * 1000}=${w.value as number}${w.emitted ? ' emitted' : ''}`)
  // Stream time 200 s: the windows starting up to 20 s - 1 ms are final (end + 60 s grace
  // passed), the others open; in ms from T0.
  t.deepEqual(open(), ['30000=110', '60001=100', '80000=1100', '150001=1000'])
  driver.advanceWallClock(60_000) // idle: every window closes, none is final yet
  await driver.commit()
  t.deepEqual(open(), ['30000=110 emitted', '60001=100 emitted', '80000=1100 emitted', '150001=1000 emitted'])
})

test('a merger that reuses its left argument leaves the points as they were: each window holds its own records', async t => {
  const builder = new TopologyBuilder()
  builder
    .stream('in', { value: jsonSerde<{ n: number; s: number }>(), timestamp: v => v.s * 1000 })
    .groupBy(() => 'k', stringSerde)
    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10_000, 0))
    .aggregate<number[]>({
      name: 'ns',
      init: () => [],
      adder: (_k, v, list) => [...list, v.n],
      merger: (_k, left, right) => {
        left.push(...right)
        return left
      },
      serde: jsonSerde()
    })
    .toSink('out', () => new CollectingSink())
  const driver = await TopologyTestDriver.create(builder.build(), { now: 86_400_000 })
  for (const [n, s] of [
    [1, 100],
    [2, 105],
    [3, 112]
  ] as const)
    driver.pipe('in', { value: JSON.stringify({ n, s }) })
  await driver.commit()
  driver.advanceWallClock(60_000)
  await driver.commit()
  const got = driver
    .sinkRecords<string, number[]>('ns', 'out')
    .map(r => `${r.start / 1000}:${r.value.sort().join(',')}`)
    .sort()
  // [90, 100], [95, 105], [102, 112]; after 100: [100.001, 110.001]; after 105: [105.001, 115.001].
  t.deepEqual(got, ['100.001:2', '102:2,3', '105.001:3', '90:1', '95:1,2'])
})
