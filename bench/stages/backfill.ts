// Simulator backfill: `events` simulator events (1,000 users, 100 antennas) into a topic, as
// `cellstream simulate` writes them. Usage: node bench/stages/backfill.ts <topic> <events> <partitions>
import { kafkaBrokersFromEnv } from '../../src/lib/config.ts'
import { parseBrokers } from '../../src/lib/options.ts'
import { EventEncoder } from '../../src/simulator/event-json.ts'
import { KafkaSink } from '../../src/simulator/kafka-sink.ts'
import { simulate } from '../../src/simulator/run.ts'
import { Traffic } from '../../src/simulator/traffic.ts'
import { report } from '../lib/result.ts'

const [topic, events, partitions] = process.argv.slice(2)
const traffic = new Traffic({ seed: 'bench', users: 1000, antennas: 100, rate: 500 })
const sink = await KafkaSink.open({
  brokers: parseBrokers(kafkaBrokersFromEnv()),
  topic: topic!,
  partitions: Number(partitions),
  encoder: new EventEncoder(traffic.population)
})
const from = Date.parse('2026-11-01T00:00:00Z') / 1000
const result = await simulate({ traffic, sink, from, to: from + 30 * 86400, events: Number(events) })
await sink.close()
report({ events: sink.sent, seconds: result.elapsedMs / 1000 })
