// Ceiling: the Kafka client's own message stream reading a topic from the start, records
// counted and dropped. Usage: node bench/stages/consume.ts <topic> <events> <group>
import { Consumer } from '@platformatic/kafka'
import { kafkaBrokersFromEnv } from '../../src/lib/config.ts'
import { parseBrokers } from '../../src/lib/options.ts'
import { report } from '../lib/result.ts'

const [topic, events, group] = process.argv.slice(2)
const consumer = new Consumer({
  clientId: 'bench-consume',
  groupId: group!,
  bootstrapBrokers: parseBrokers(kafkaBrokersFromEnv()),
  autocommit: false,
  maxBytes: 8 << 20
})
const started = performance.now()
const stream = await consumer.consume({ topics: [topic!], mode: 'earliest', autocommit: false })
let count = 0
for await (const _message of stream) if (++count >= Number(events)) break
const seconds = (performance.now() - started) / 1000
await stream.close()
await consumer.close(true)
report({ events: count, seconds })
