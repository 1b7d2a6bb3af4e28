import test, { type ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StreamApp } from '../../src/runtime/stream-app.ts'
import { createConsumer, createProducer } from '../../src/kafka/clients.ts'
import { Fetcher, headerValue, readToEnd } from '../../src/kafka/fetcher.ts'
import { WINDOW_HEADERS } from '../../src/runtime/window-outputs.ts'
import { sleep } from '../../src/lib/processes.ts'
import { sampleTopology, type SampleTopics } from '../testing/sample-topology.ts'
import { kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'
import { expectedTotals, produceUsage, usageEvents } from './usage-data.ts'

export interface Setup { brokers: string[], topics: SampleTopics, stateDir: string, applicationId: string }

export async function setup (t: ExecutionContext, partitions: number): Promise<Setup> {
  const brokers = await kafkaBrokers()
  const [input, output, enriched, plans, dlq, late] = await testTopics(t, [
    { prefix: 'usage', partitions }, { prefix: 'user-bytes', partitions }, { prefix: 'enriched', partitions },
    { prefix: 'plans', partitions: 1, config: { 'cleanup.policy': 'compact' } }, { prefix: 'dlq', partitions }, { prefix: 'late', partitions }
  ])
  const stateDir = await mkdtemp(join(tmpdir(), 'cellstream-state-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  return { brokers, topics: { input: input!, output: output!, enriched: enriched!, plans: plans!, dlq: dlq!, late: late! }, stateDir, applicationId: uniqueName('app') }
}

/** Every window on the output topic (read_committed), as "startMs|user" → values in order of arrival. */
export async function readWindows (brokers: string[], topic: string, until: (windows: Map<string, number[]>) => boolean, timeoutMs = 120_000): Promise<Map<string, number[]>> {
  const consumer = createConsumer(brokers, 'reader', uniqueName('reader'))
  try {
    const fetcher = new Fetcher(consumer)
    const partitions = await fetcher.partitions(topic)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const windows = new Map<string, number[]>()
      for await (const batch of readToEnd(fetcher, topic, new Map(Array.from({ length: partitions }, (_, p) => [p, 0n])))) {
        for (const r of batch) {
          const id = `${headerValue(r, WINDOW_HEADERS.start)}|${r.key!.toString()}`
          windows.set(id, [...(windows.get(id) ?? []), Number(r.value!.readBigInt64BE())])
        }
      }
      if (until(windows) || Date.now() > deadline) return windows
      await sleep(500)
    }
  } finally {
    await consumer.close(true)
  }
}

export function app (s: Setup, instance: string): StreamApp {
  return new StreamApp({
    topology: sampleTopology({ topics: s.topics, sink: false }),
    applicationId: s.applicationId,
    brokers: s.brokers,
    stateDir: join(s.stateDir, instance),
    commitIntervalMs: 300,
    idleTimeoutMs: 3000
  })
}

async function runInstances (t: ExecutionContext, instances: number): Promise<void> {
  const s = await setup(t, 6)
  const events = usageEvents(30_000, 6)
  const { totals, late } = expectedTotals(events)
  t.true(late > 100, 'the data has late events')
  const producer = createProducer(s.brokers, 'test')
  await produceUsage(producer, s.topics.input, events)
  await producer.close()

  const apps = Array.from({ length: instances }, (_, i) => app(s, `instance-${i}`))
  t.teardown(() => Promise.all(apps.map(a => a.stop())))
  await Promise.all(apps.map(a => a.start()))
  const windows = await readWindows(s.brokers, s.topics.output, w => w.size >= totals.size)
  await Promise.all(apps.map(a => a.stop()))

  t.is(windows.size, totals.size)
  const duplicates = [...windows].filter(([, values]) => values.length > 1)
  t.deepEqual(duplicates, [], 'each window emitted exactly once')
  t.deepEqual([...windows].map(([id, values]) => `${id}=${values[0]}`).sort(), [...totals].map(([id, value]) => `${id}=${value}`).sort())
}

test('a 6-partition null-keyed input processed by one instance gives the exact totals', async t => {
  await runInstances(t, 1)
})

test('the same input processed by three instances gives the same exact totals', async t => {
  await runInstances(t, 3)
})
