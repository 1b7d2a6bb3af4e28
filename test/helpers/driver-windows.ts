// Feeding usage events to the sample topology in the test driver, and reading back the
// windows it produced, for the window-kind tests.
import type { ExecutionContext } from 'ava'
import { TopologyTestDriver } from '../../src/testing/test-driver.ts'
import { WINDOW_HEADERS } from '../../src/runtime/window-outputs.ts'
import { inMemoryStores, levelDbStores } from '../../src/stores/index.ts'
import type { Windows } from '../../src/topology/index.ts'
import { event, sampleTopology } from './sample-topology.ts'
import { usageEvents, type UsageEvent } from './usage-data.ts'
import { lines } from './sample-app.ts'
import { tempDir } from './temp-dir.ts'

export function pipeAll(driver: TopologyTestDriver, events: UsageEvent[]): void {
  for (const e of events) driver.pipe('usage', { partition: e.partition, value: event(e.user, e.bytes, e.ts) })
}

/** Every window produced to the output topic, "startMs|user" → its values in order. */
export function outputWindows(driver: TopologyTestDriver): Map<string, number[]> {
  const windows = new Map<string, number[]>()
  for (const r of driver.readOutput('user-bytes')) {
    const id = `${r.headers![WINDOW_HEADERS.start]}|${r.key!.toString()}`
    windows.set(id, [...(windows.get(id) ?? []), Number(r.value!.readBigInt64BE())])
  }
  return windows
}

/** Each window produced once, with exactly the expected value, and no other. */
export function onceEach(t: ExecutionContext, got: Map<string, number[]>, expected: Map<string, number>): void {
  t.deepEqual(
    [...got].filter(([, values]) => values.length > 1),
    [],
    'each window emitted once'
  )
  t.deepEqual(lines([...got].map(([id, values]) => [id, values[0]!])), lines(expected))
}

/**
 * 3000 records on 3 partitions through the sample topology windowed by `windows`, with each
 * store kind and a restart halfway: every window emitted once, with the total `expected` gives
 * it, and the late records counted. Returns what `expected` gave.
 */
export async function restartHalfway(
  t: ExecutionContext,
  what: string,
  windows: Windows,
  expected: (events: UsageEvent[]) => { totals: Map<string, number>; late: number }
): Promise<{ totals: Map<string, number>; late: number }> {
  // Epoch seconds of 2021-02-19T21:00:00Z.
  const t0 = 1613768400
  const events = usageEvents(3000, 3, t0)
  const { totals, late } = expected(events)
  for (const stores of [inMemoryStores, levelDbStores]) {
    const stateDir = await tempDir(t)
    const driver = await TopologyTestDriver.create(sampleTopology({ windows }), {
      partitions: { usage: 3 },
      now: (t0 + 86_400) * 1000,
      stores,
      stateDir
    })
    pipeAll(driver, events.slice(0, 1500))
    await driver.commit()
    t.true(outputWindows(driver).size > 0, `${stores.name}: ${what} closed before the restart`)
    await driver.restart()
    pipeAll(driver, events.slice(1500))
    await driver.commit()
    driver.advanceWallClock(60_000)
    await driver.commit()
    t.true(late > 0)
    onceEach(t, outputWindows(driver), totals)
    t.is(driver.metrics.get('late:user-bytes'), late, stores.name)
  }
  return { totals, late }
}
