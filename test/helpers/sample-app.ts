// Shared pieces of the runtime tests: fresh topics and state folders, an instance of the
// sample application, and a read_committed reader of its output windows.
import type { ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StreamApp, type StreamAppOptions } from '../../src/runtime/stream-app.ts'
import { createConsumer } from '../../src/kafka/clients.ts'
import { Fetcher, headerValue, readToEnd } from '../../src/kafka/fetcher.ts'
import { WINDOW_HEADERS } from '../../src/runtime/window-outputs.ts'
import { waitFor } from './wait.ts'
import { sampleTopology, type SampleTopics } from './sample-topology.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from './kafka.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import type { Windows } from '../../src/topology/index.ts'

export interface Setup {
  brokers: string[]
  topics: SampleTopics
  stateDir: string
  applicationId: string
}

export async function setup(t: ExecutionContext, partitions: number): Promise<Setup> {
  const brokers = await kafkaBrokers()
  const [input, output, enriched, plans, dlq, late] = await testTopics(t, [
    { prefix: 'usage', partitions },
    { prefix: 'user-bytes', partitions },
    { prefix: 'enriched', partitions },
    { prefix: 'plans', partitions: 1, config: { 'cleanup.policy': 'compact' } },
    { prefix: 'dlq', partitions },
    { prefix: 'late', partitions }
  ])
  const stateDir = await mkdtemp(join(tmpdir(), 'cellstream-state-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  const applicationId = uniqueName('app')
  // The application's internal topics and groups go when the test ends.
  cleanUpAfter(t, [applicationId])
  return {
    brokers,
    topics: { input: input!, output: output!, enriched: enriched!, plans: plans!, dlq: dlq!, late: late! },
    stateDir,
    applicationId
  }
}

/**
 * Every window on the output topic up to its end offsets now (read_committed), as
 * "startMs|user" → values in order of arrival. Read after the writers' last commit, it holds
 * everything they wrote, duplicates included.
 */
export async function readAllWindows(brokers: string[], topic: string): Promise<Map<string, number[]>> {
  const consumer = createConsumer(brokers, 'reader', uniqueName('reader'))
  try {
    const fetcher = new Fetcher(consumer)
    const partitions = await fetcher.partitions(topic)
    const windows = new Map<string, number[]>()
    for await (const batch of readToEnd(
      fetcher,
      topic,
      new Map(Array.from({ length: partitions }, (_, p) => [p, 0n]))
    )) {
      for (const r of batch) {
        const id = `${headerValue(r, WINDOW_HEADERS.start)}|${r.key!.toString()}`
        windows.set(id, [...(windows.get(id) ?? []), Number(r.value!.readBigInt64BE())])
      }
    }
    return windows
  } finally {
    await consumer.close(true)
  }
}

/** Waits until the output topic holds at least `count` distinct windows; throws at the deadline. */
export async function waitForWindows(s: Setup, count: number, deadlineMs: number): Promise<void> {
  await waitFor(
    `${count} windows on ${s.topics.output}`,
    async () => (await readAllWindows(s.brokers, s.topics.output)).size >= count,
    { deadlineMs, intervalMs: 500 }
  )
}

/**
 * The windows as "windowStart|user=value" lines, each value once, with the windows emitted
 * more than once apart: what the exactness checks compare.
 */
export function emitted(windows: Map<string, number[]>): { lines: string[]; duplicates: Array<[string, number[]]> } {
  return {
    lines: lines([...windows].map(([id, values]) => [id, values[0]!])),
    duplicates: [...windows].filter(([, values]) => values.length > 1)
  }
}

export function app(
  s: Setup,
  instance: string,
  options: Partial<StreamAppOptions> & { windows?: Windows } = {}
): StreamApp {
  const { windows, ...rest } = options
  return new StreamApp({
    topology: sampleTopology({ topics: s.topics, sink: false, windows }),
    applicationId: s.applicationId,
    brokers: s.brokers,
    stateDir: join(s.stateDir, instance),
    commitIntervalMs: 300,
    idleTimeoutMs: 3000,
    ...rest
  })
}

/** "windowStart|user=value" lines, sorted, for comparing results. */
export function lines(entries: Iterable<[string, number]>): string[] {
  return [...entries].map(([id, value]) => `${id}=${value}`).sort()
}

/** Waits until the group has committed `total` input offsets over all partitions of `topic`. */
export async function waitForCommitted(s: Setup, topic: string, total: bigint, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `the group to commit ${total} offsets of ${topic}`,
    async () => {
      const groups = await withAdmin(s.brokers, admin => admin.listConsumerGroupOffsets({ groups: [s.applicationId] }))
      const partitions = groups[0]?.topics.find(entry => entry.name === topic)?.partitions ?? []
      return partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n) >= total
    },
    { deadlineMs: timeoutMs }
  )
}
