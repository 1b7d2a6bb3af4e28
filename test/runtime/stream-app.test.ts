import test, { type ExecutionContext } from 'ava'
import { createConsumer, createProducer } from '../../src/kafka/clients.ts'
import {
  expectedSessionTotals,
  expectedSlidingTotals,
  expectedTotals,
  produceUsage,
  usageEvents,
  type UsageEvent
} from '../helpers/usage-data.ts'
import {
  app,
  emitted,
  lines,
  readAllWindows,
  setup,
  waitForCommitted,
  waitForWindows,
  type Setup
} from '../helpers/sample-app.ts'
import { waitFor } from '../helpers/wait.ts'
import { CountingMetrics } from '../../src/runtime/metrics.ts'
import { StreamApp, type StreamAppOptions } from '../../src/runtime/stream-app.ts'
import type { WindowSink } from '../../src/topology/index.ts'
import { sampleTopology } from '../helpers/sample-topology.ts'
import { SessionWindows, SlidingWindows, TimeWindows, type Windows } from '../../src/topology/index.ts'
import { changelogTopic, partialsTopic } from '../../src/runtime/internal-topics.ts'
import { readCheckpoint, windowedSerde } from '../../src/stores/index.ts'
import { ownedWindowSerde } from '../../src/runtime/owner-task.ts'
import { int64Serde, stringSerde } from '../../src/lib/serdes.ts'
import { Fetcher } from '../../src/kafka/fetcher.ts'
import { uniqueName } from '../helpers/kafka.ts'
import { join } from 'node:path'

/**
 * How many windows the events close on one partition, by the largest event time among them: a
 * window closes once its end plus the minute of grace is reached.
 */
function closedWindows(events: UsageEvent[]): number {
  const streamTimeMs = Math.max(...events.map(e => e.ts)) * 1000
  return [...expectedTotals(events).totals.keys()].filter(id => Number(id.split('|')[0]) + 360_000 <= streamTimeMs)
    .length
}

/** The end offset of partition 0 of `topic` (read_committed). */
async function endOffset(s: Setup, topic: string): Promise<bigint> {
  const consumer = createConsumer(s.brokers, 'offsets', uniqueName('offsets'))
  try {
    return (await new Fetcher(consumer).endOffsets(topic))[0]!
  } finally {
    await consumer.close(true)
  }
}

async function runInstances(
  t: ExecutionContext,
  instances: number,
  options: Partial<StreamAppOptions> & {
    windows?: Windows
    /** How many events (30 000 by default). */
    events?: number
    /** The expected totals, computed independently (5-minute tumbling windows by default). */
    expected?: (events: UsageEvent[]) => { totals: Map<string, number>; late: number }
  } = {}
): Promise<void> {
  const s = await setup(t, 6)
  const events = usageEvents(options.events ?? 30_000, 6)
  const { totals, late } = (options.expected ?? expectedTotals)(events)
  t.true(late > 100, 'the data has late events')
  const producer = createProducer(s.brokers, 'test')
  await produceUsage(producer, s.topics.input, events)
  await producer.close()

  const { expected: _expected, events: _events, ...appOptions } = options
  const apps = Array.from({ length: instances }, (_, i) => app(s, `instance-${i}`, appOptions))
  t.teardown(() => Promise.all(apps.map(a => a.stop())))
  await Promise.all(apps.map(a => a.start()))
  await waitForWindows(s, totals.size, 120_000)
  // Stopped, the instances made their last commit: the output read to its end then holds every
  // window they ever emitted.
  await Promise.all(apps.map(a => a.stop()))
  const { lines: output, duplicates } = emitted(await readAllWindows(s.brokers, s.topics.output))
  t.deepEqual(duplicates, [], 'each window emitted exactly once')
  t.deepEqual(output, lines(totals))
}

test('a 6-partition null-keyed input processed by one instance gives the exact totals', async t => {
  await runInstances(t, 1)
})

test('the same input processed by three instances gives the same exact totals', async t => {
  await runInstances(t, 3)
})

test('hopping windows on the broker: every window a record falls in, each emitted once with its exact total', async t => {
  await runInstances(t, 2, {
    windows: TimeWindows.ofSizeAndGrace(10 * 60_000, 60_000).advanceBy(5 * 60_000),
    expected: events => expectedTotals(events, { sizeS: 600, advanceS: 300 })
  })
})

test('sliding windows on the broker: each window of each user emitted once with its exact total', async t => {
  await runInstances(t, 2, {
    windows: SlidingWindows.ofTimeDifferenceAndGrace(5 * 60_000, 60_000),
    events: 6000,
    expected: events => expectedSlidingTotals(events, 300)
  })
})

test('session windows on the broker: each session of each user emitted once with its exact total', async t => {
  await runInstances(t, 2, {
    windows: SessionWindows.ofInactivityGapAndGrace(5_000, 60_000),
    events: 6000,
    expected: events => expectedSessionTotals(events, 5)
  })
})

test('a partition with records still to read is never idle: with a 1 ms idle timeout, each window is still emitted once', async t => {
  await runInstances(t, 1, { idleTimeoutMs: 1 })
})

test('an instance on a new machine restores open windows from the changelog', async t => {
  const s = await setup(t, 3)
  const events = usageEvents(9000, 3)
  const { totals } = expectedTotals(events)
  const producer = createProducer(s.brokers, 'test')
  t.teardown(() => producer.close())
  await produceUsage(producer, s.topics.input, events.slice(0, 4500))

  // Windows stay open: no idle release, and the input stops mid-stream.
  const first = app(s, 'first', { idleTimeoutMs: 3_600_000 })
  await first.start()
  await waitForCommitted(s, s.topics.input, 4500n)
  await first.stop()
  const metrics = new CountingMetrics()

  await produceUsage(producer, s.topics.input, events.slice(4500))
  const second = app(s, 'second', { metrics })
  t.teardown(() => second.stop())
  await second.start()
  await waitForWindows(s, totals.size, 120_000)
  await second.stop()
  const { lines: output, duplicates } = emitted(await readAllWindows(s.brokers, s.topics.output))
  t.true(
    metrics.get('restored:user-bytes-windows-0') +
      metrics.get('restored:user-bytes-windows-1') +
      metrics.get('restored:user-bytes-windows-2') >
      0,
    'window stores were restored from their changelogs'
  )
  t.deepEqual(duplicates, [], 'each window emitted exactly once')
  t.deepEqual(output, lines(totals))
})

test('after a clean stop, a restart reuses local state instead of replaying the changelog', async t => {
  const s = await setup(t, 3)
  const events = usageEvents(3000, 3)
  const producer = createProducer(s.brokers, 'test')
  t.teardown(() => producer.close())
  await produceUsage(producer, s.topics.input, events)

  const first = app(s, 'same', { idleTimeoutMs: 3_600_000 })
  await first.start()
  await waitForCommitted(s, s.topics.input, 3000n)
  await first.stop()

  const restoredBy = async (instance: string): Promise<number> => {
    const metrics = new CountingMetrics()
    const restarted = app(s, instance, { idleTimeoutMs: 3_600_000, metrics })
    await restarted.start()
    await waitFor(`instance ${instance} to be assigned partitions`, () => restarted.assignment.length > 0, {
      deadlineMs: 60_000
    })
    await restarted.stop()
    return [...metrics.counts]
      .filter(([name]) => name.startsWith('restored:'))
      .reduce((sum, [, count]) => sum + count, 0)
  }
  const fromCheckpoint = await restoredBy('same')
  const fromScratch = await restoredBy('elsewhere')
  t.true(fromScratch > 0, 'a new machine replays the changelogs')
  t.is(fromCheckpoint, 0, 'a clean restart replays nothing')
})

test('a checkpoint claims only the changelog records this instance wrote: what another instance wrote after them is restored', async t => {
  const s = await setup(t, 1)
  const events = usageEvents(3000, 1)
  const { totals } = expectedTotals(events)
  const producer = createProducer(s.brokers, 'test')
  t.teardown(() => producer.close())
  await produceUsage(producer, s.topics.input, events.slice(0, 1500))

  const first = app(s, 'same', { idleTimeoutMs: 3_600_000 })
  t.teardown(() => first.stop())
  await first.start()
  await waitForCommitted(s, s.topics.input, 1500n)
  await waitForCommitted(
    s,
    partialsTopic(s.applicationId, 'user-bytes'),
    await endOffset(s, partialsTopic(s.applicationId, 'user-bytes'))
  )
  // Windows stay open and no more input comes. Every merge is committed (the partials are); once
  // the windows the input closed are out, committed with their changelog deletes, the instance
  // has nothing left to write to the changelog.
  await waitForWindows(s, closedWindows(events.slice(0, 1500)), 60_000)
  const changelog = changelogTopic(s.applicationId, 'user-bytes', 'windows')

  // What another instance commits when a rebalance moved the partition to it before this
  // instance closed its stores: a window, already due, that this instance never saw.
  const intruder = { start: (events[0]!.ts - 300) * 1000, key: 'intruder' }
  const written = await producer.send({
    messages: [
      {
        topic: changelog,
        partition: 0,
        key: windowedSerde(stringSerde).serialize(intruder),
        value: ownedWindowSerde(int64Serde).serialize({ value: 42, emitted: false, changed: true })
      }
    ]
  })
  await first.stop()
  const checkpoint = await readCheckpoint(join(s.stateDir, 'same', s.applicationId, 'user-bytes-0', 'windows'))
  t.true(
    checkpoint !== undefined && checkpoint <= written.offsets![0]!.offset,
    `the checkpoint (${checkpoint}) is not past the other instance's record`
  )

  const metrics = new CountingMetrics()
  const second = app(s, 'same', { metrics })
  t.teardown(() => second.stop())
  await second.start()
  await produceUsage(producer, s.topics.input, events.slice(1500))
  await waitForWindows(s, totals.size + 1, 60_000)
  await second.stop()
  t.is(metrics.get('restored:user-bytes-windows-0'), 1, "the restart replayed the other instance's record only")
  const { lines: output, duplicates } = emitted(await readAllWindows(s.brokers, s.topics.output))
  t.deepEqual(duplicates, [], 'each window emitted exactly once')
  t.deepEqual(output, lines([...totals, [`${intruder.start}|intruder`, 42]]))
})

test('closed windows reach their sink between commits, not only at the next commit', async t => {
  const s = await setup(t, 3)
  const events = usageEvents(3000, 3)
  const { totals } = expectedTotals(events)
  const producer = createProducer(s.brokers, 'test')
  await produceUsage(producer, s.topics.input, events)
  await producer.close()

  const flushes: Array<{ windows: number; commits: number; duringCommit: boolean }> = []
  const sink = (): WindowSink<string, number> => {
    let pending = 0
    return {
      add: records => {
        pending += records.length
      },
      flush: async () => {
        if (pending > 0)
          flushes.push({ windows: pending, commits: instance.commits, duringCommit: instance.committing })
        pending = 0
      }
    }
  }
  // Commits are ten seconds apart, far longer than one takes even on a loaded machine: a window
  // that waited for the next commit would be seen flushed during one.
  const instance: StreamApp = new StreamApp({
    topology: sampleTopology({ topics: s.topics, sink }),
    applicationId: s.applicationId,
    brokers: s.brokers,
    stateDir: s.stateDir,
    commitIntervalMs: 10_000,
    idleTimeoutMs: 1000
  })
  t.teardown(() => instance.stop())
  await instance.start()
  await waitFor('every window to reach the sink', () => flushes.reduce((sum, f) => sum + f.windows, 0) >= totals.size, {
    deadlineMs: 120_000,
    intervalMs: 100
  })
  t.true(
    flushes.some(f => !f.duringCommit),
    `windows were flushed while no commit ran (flushes: ${JSON.stringify(flushes)})`
  )
  await instance.stop()
})
