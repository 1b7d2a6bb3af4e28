// Feeding usage events to the sample topology in the test driver, and reading back the
// windows it produced, for the window-kind tests.
import type { ExecutionContext } from 'ava'
import type { TopologyTestDriver } from '../../src/testing/test-driver.ts'
import { WINDOW_HEADERS } from '../../src/runtime/window-outputs.ts'
import { event } from './sample-topology.ts'
import type { UsageEvent } from './usage-data.ts'
import { lines } from './sample-app.ts'

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
