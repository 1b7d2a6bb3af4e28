// Throughput of the bare engine on one instance: consume, parse and validate each event, three 5-minute windowed sums
// (per antenna, per user, per app), exactly-once commits, final windows to output topics.
// Compared with reading the same topic without processing: the client's message stream and
// the engine's raw fetcher. Usage: npm exec -- node bench/engine.ts [events]
import { randomUUID } from 'node:crypto'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Consumer } from '@platformatic/kafka'
import { withAdmin } from '../src/kafka/admin.ts'
import { createConsumer } from '../src/kafka/clients.ts'
import { Fetcher, readToEnd } from '../src/kafka/fetcher.ts'
import { kafkaBrokersFromEnv } from '../src/lib/config.ts'
import { parseBrokers } from '../src/lib/options.ts'
import { EventEncoder } from '../src/simulator/event-json.ts'
import { KafkaSink } from '../src/simulator/kafka-sink.ts'
import { simulate } from '../src/simulator/run.ts'
import { Traffic } from '../src/simulator/traffic.ts'

const events = Number(process.argv.slice(2).find(a => /^\d+$/.test(a)) ?? 2_000_000)
const brokers = parseBrokers(kafkaBrokersFromEnv())
const id = randomUUID().slice(0, 8)
const topic = `bench-engine-${id}`
const partitions = 6
/** V8 settings of the engine process; see step 3. */
const ENGINE_FLAGS = ['--max-semi-space-size=16', '--heap-growing-percent=100']

function rate(count: number, ms: number): string {
  return `${Math.round(count / (ms / 1000)).toLocaleString('en-US')} events/s`
}

// 1. Input: the simulator's backfill, 1,000 users and 100 antennas.
const traffic = new Traffic({ seed: 'bench-engine', users: 1000, antennas: 100, rate: 500 })
const sink = await KafkaSink.open({ brokers, topic, partitions, encoder: new EventEncoder(traffic.population) })
const from = Date.parse('2026-11-01T00:00:00Z') / 1000
await simulate({ traffic, sink, from, to: from + 30 * 86400, events })
await sink.close()
console.log(`input: ${events} events in ${topic} (${partitions} partitions); engine flags: ${ENGINE_FLAGS.join(' ')}`)

// 2. Reading only: the client's message stream, then the raw fetcher the engine uses.
{
  const consumer = new Consumer({
    clientId: 'bench',
    groupId: `bench-${id}-stream`,
    bootstrapBrokers: brokers,
    autocommit: false,
    maxBytes: 8 << 20
  })
  const started = performance.now()
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false })
  let count = 0
  for await (const _message of stream) if (++count >= events) break
  const ms = performance.now() - started
  await stream.close()
  await consumer.close(true)
  console.log(`client message stream (for await): ${rate(count, ms)}`)
}
{
  const consumer = createConsumer(brokers, 'bench', `bench-${id}-fetch`)
  const fetcher = new Fetcher(consumer)
  const started = performance.now()
  let count = 0
  for await (const batch of readToEnd(fetcher, topic, new Map(Array.from({ length: partitions }, (_, p) => [p, 0n]))))
    count += batch.length
  const ms = performance.now() - started
  await consumer.close(true)
  console.log(`raw fetcher: ${rate(count, ms)}`)
}

// 3. The engine, in a process of its own so that its memory is measured alone. V8 grows the
// young generation up to 64 MB per semi-space under a steady allocation rate like this one,
// whatever the live data (about 40 MB here); 16 MB keeps the same throughput in less memory.
// And it lets the old generation grow to several times the live data before a full
// collection; collecting once it has doubled keeps the same throughput in 50 MB less.
const child = spawn(
  process.execPath,
  [
    ...process.execArgv,
    ...ENGINE_FLAGS,
    fileURLToPath(new URL('./engine-instance.ts', import.meta.url)),
    topic,
    String(events),
    String(partitions)
  ],
  { stdio: 'inherit' }
)
const [code] = await once(child, 'exit')
if (code !== 0) process.exitCode = 1

await withAdmin(brokers, async admin => {
  const all = await admin.listTopics()
  await admin.deleteTopics({
    topics: all.filter(t => t.startsWith(`bench-engine-${id}`) || t.startsWith(`bench-${id}`))
  })
})
