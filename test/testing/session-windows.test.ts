import test from 'ava'
import { TopologyTestDriver } from '../../src/testing/test-driver.ts'
import { sampleTopology } from '../helpers/sample-topology.ts'
import { SessionWindows } from '../../src/topology/index.ts'
import { expectedSessionTotals, type UsageEvent } from '../helpers/usage-data.ts'
import { onceEach, outputWindows, pipeAll, restartHalfway } from '../helpers/driver-windows.ts'

// Epoch seconds of 2021-02-19T21:00:00Z.
const T0 = 1613768400
const at = (partition: number, user: string, bytes: number, s: number): UsageEvent => ({
  partition,
  user,
  bytes,
  ts: T0 + s
})
// The grace the expected totals assume (usage-data.ts).
const sessions = (gapS: number): SessionWindows => SessionWindows.ofInactivityGapAndGrace(gapS * 1000, 60_000)

test('sessions: records within the gap, merged by one that bridges two, late records out, several keys', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology({ windows: sessions(30) }), {
    partitions: { usage: 2 },
    now: (T0 + 86_400) * 1000
  })
  const events = [
    at(0, 'a', 1, 0),
    at(0, 'b', 8, 10),
    at(0, 'a', 2, 20),
    at(0, 'a', 4, 100),
    at(0, 'a', 16, 200),
    at(0, 'a', 32, 60), // 140 s behind its partition: late
    at(0, 'a', 64, 150), // 50 s behind: within grace, a session of its own
    at(1, 'a', 128, 50),
    at(1, 'b', 256, 35),
    at(1, 'a', 512, 75) // within 30 s of 50 and of 100: one session from 0 to 100
  ]
  pipeAll(driver, events)
  await driver.commit()
  driver.advanceWallClock(60_000) // every partition idle: every session closes
  await driver.commit()
  const got = driver
    .sinkRecords<string, number>('user-bytes', 'totals')
    .map(r => `${r.key} ${(r.start - T0 * 1000) / 1000}..${(r.end - 1 - T0 * 1000) / 1000}=${r.value}`)
    .sort()
  // By hand, in seconds from T0, both ends inclusive.
  t.deepEqual(got, ['a 0..100=647', 'a 150..150=64', 'a 200..200=16', 'b 10..35=264'])
  const { totals, late } = expectedSessionTotals(events, 30)
  t.is(late, 1)
  onceEach(t, outputWindows(driver), totals)
  t.is(driver.readOutput('usage-late').length, 1)
  t.is(driver.metrics.get('late:user-bytes'), 1)
})

test('sessions over 3000 records on 3 partitions, with a restart halfway: each once, with its exact total', async t => {
  const { totals } = await restartHalfway(t, 'sessions', sessions(5), events => expectedSessionTotals(events, 5))
  t.true(totals.size > 100, 'the data makes many sessions')
})

test('a record that extends a session after an idle close emits it again with its new total', async t => {
  const driver = await TopologyTestDriver.create(sampleTopology({ windows: sessions(30) }), {
    partitions: { usage: 2 },
    now: (T0 + 86_400) * 1000
  })
  const first = [at(0, 'a', 1, 0), at(0, 'b', 1, 1000)]
  pipeAll(driver, first)
  await driver.commit()
  driver.advanceWallClock(60_000) // both partitions idle: every session closes
  await driver.commit()
  // Partition 1 has seen nothing: this record is not late by its partition's rule.
  const second = at(1, 'a', 4, 20)
  pipeAll(driver, [second])
  await driver.commit()
  driver.advanceWallClock(60_000)
  await driver.commit()
  t.deepEqual(outputWindows(driver).get(`${T0 * 1000}|a`), [1, 5])
  // An upserting sink ends with the totals of every record.
  const last = new Map([...outputWindows(driver)].map(([id, values]) => [id, values.at(-1)!]))
  t.deepEqual(last, expectedSessionTotals([...first, second], 30).totals)
})
