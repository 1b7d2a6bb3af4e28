// The engine phase of bench/engine.ts: one instance of a topology that parses each event and
// keeps three 5-minute windowed sums, run until every input offset is committed.
// Usage: node bench/engine-instance.ts <topic> <events> <partitions>
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdmin } from '../src/kafka/admin.ts'
import { kafkaBrokersFromEnv } from '../src/lib/config.ts'
import { parseBrokers } from '../src/lib/options.ts'
import { int64Serde, stringSerde, type Serde } from '../src/lib/serdes.ts'
import { StreamApp } from '../src/runtime/stream-app.ts'
import { checkEventTime, decodeEvent, type TrafficEvent } from '../src/traffic/event-codec.ts'
import { TimeWindows, TopologyBuilder } from '../src/topology/index.ts'
import { report } from './lib/result.ts'

const [topic, eventsArg] = process.argv.slice(2)
const events = Number(eventsArg)
const brokers = parseBrokers(kafkaBrokersFromEnv())
const id = `${topic!.replace('bench-engine-', '')}-${process.pid}`

type Event = TrafficEvent

// The antenna application's decoder: validates every record against the event schema.
const eventSerde: Serde<Event> = {
  serialize: e => Buffer.from(JSON.stringify(e)),
  deserialize: decodeEvent
}

function topology(topic: string): ReturnType<TopologyBuilder['build']> {
  const builder = new TopologyBuilder().deadLetters(`${topic}-dlq`)
  const stream = builder.stream(topic, {
    value: eventSerde,
    timestamp: (e, recordTimestamp) => checkEventTime(e, recordTimestamp, 300)
  })
  const windows = TimeWindows.ofSizeAndGrace(300_000, 60_000)
  for (const [name, keyOf] of [
    ['antenna', (e: Event) => e.antenna_id],
    ['user', (e: Event) => e.id],
    ['app', (e: Event) => e.app]
  ] as const) {
    stream
      .groupBy((_k, e) => keyOf(e), stringSerde)
      .windowedBy(windows)
      .aggregate({
        name: `${name}-bytes`,
        init: () => 0,
        adder: (_k, e, sum) => sum + e.bytes,
        merger: (_k, a, b) => a + b,
        serde: int64Serde
      })
      .to(`${topic}-${name}-bytes`, { key: stringSerde, value: int64Serde })
  }
  return builder.build()
}

function rate(count: number, ms: number): string {
  return `${Math.round(count / (ms / 1000)).toLocaleString('en-US')} events/s`
}

const stateDir = await mkdtemp(join(tmpdir(), 'cellstream-bench-'))
const app = new StreamApp({
  topology: topology(topic!),
  applicationId: `bench-${id}`,
  brokers,
  stateDir,
  commitIntervalMs: 1000,
  idleTimeoutMs: 5000
})
let peakRss = 0
let peak: NodeJS.MemoryUsage | undefined
let liveMax = 0
const gcSampler =
  process.env.BENCH_MEMORY !== undefined
    ? setInterval(() => {
        ;(globalThis as { gc?: () => void }).gc?.()
        liveMax = Math.max(liveMax, process.memoryUsage().heapUsed)
      }, 500)
    : undefined
const sampler = setInterval(() => {
  const usage = process.memoryUsage()
  if (usage.rss > peakRss) {
    peakRss = usage.rss
    peak = usage
  }
}, 100)
await app.start()
// Measured from the moment the instance has joined the group and loaded its tables.
const started = performance.now()
// One client for every poll: a new connection each 100 ms would take CPU from the engine it measures.
const admin = createAdmin(brokers, 'bench-progress')
for (;;) {
  const groups = await admin.listConsumerGroupOffsets({ groups: [`bench-${id}`] })
  const committed =
    groups[0]?.topics
      .find(t => t.name === topic)
      ?.partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n) ?? 0n
  if (committed >= BigInt(events)) break
  await new Promise(resolve => setTimeout(resolve, 100))
}
const ms = performance.now() - started
await admin.close()
clearInterval(sampler)
clearInterval(gcSampler)
await app.stop()
if (process.env.BENCH_MEMORY !== undefined) console.log(peak, liveMax)
console.log(
  `engine (parse, 3 windowed sums, exactly-once commits): ${rate(events, ms)}, peak RSS ${Math.round(peakRss / 2 ** 20)} MB`
)
report({ events, seconds: ms / 1000 })

await rm(stateDir, { recursive: true, force: true })
