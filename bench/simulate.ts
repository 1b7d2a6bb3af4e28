// Backfills 5M events (default) into a fresh 6-partition topic and prints events/s.
// Usage: npm exec -- node bench/simulate.ts [events] [--keep]
// Needs a broker (KAFKA_BROKERS, default 127.0.0.1:9092); the topic is deleted afterwards
// unless --keep is given.
import { randomUUID } from 'node:crypto'
import { withAdmin } from '../src/kafka/admin.ts'
import { kafkaBrokersFromEnv } from '../src/lib/config.ts'
import { parseBrokers } from '../src/lib/options.ts'
import { EventEncoder } from '../src/simulator/event-json.ts'
import { KafkaSink } from '../src/simulator/kafka-sink.ts'
import { simulate } from '../src/simulator/run.ts'
import { Traffic } from '../src/simulator/traffic.ts'

const args = process.argv.slice(2)
const events = Number(args.find(a => /^\d+$/.test(a)) ?? 5_000_000)
const keep = args.includes('--keep')
const brokers = parseBrokers(kafkaBrokersFromEnv())
const topic = `bench-simulate-${randomUUID().slice(0, 8)}`

// 1,000 users at 200 events/s of event time: a 5M-event backfill covers about 7 hours.
const traffic = new Traffic({ seed: 'bench', users: 1000, rate: 200 })
const sink = await KafkaSink.open({ brokers, topic, partitions: 6, encoder: new EventEncoder(traffic.population) })
const from = Date.parse('2026-11-01T00:00:00Z') / 1000
const result = await simulate({
  traffic,
  sink,
  from,
  to: from + 30 * 86400,
  events
})
await sink.close()
const seconds = result.elapsedMs / 1000
const acknowledged = sink.sent
console.log(
  `${acknowledged} events to ${topic} (6 partitions) in ${seconds.toFixed(2)} s: ${Math.round(acknowledged / seconds)} events/s`
)
if (!keep) await withAdmin(brokers, admin => admin.deleteTopics({ topics: [topic] }))
