// Ceiling: the Kafka client's own producer sending prebuilt records (the first `events` of a
// topic, null keys, acks from the leader), 8,192 records a send, four sends in flight.
// Usage: node bench/stages/produce.ts <from-topic> <to-topic> <events>
import { Producer } from '@platformatic/kafka'
import { kafkaBrokersFromEnv } from '../../src/lib/config.ts'
import { parseBrokers } from '../../src/lib/options.ts'
import { BenchKafka } from '../lib/kafka.ts'
import { report } from '../lib/result.ts'

const [from, to, eventsArg] = process.argv.slice(2)
const events = Number(eventsArg)
const brokers = parseBrokers(kafkaBrokersFromEnv())
const kafka = new BenchKafka(brokers, 'unused')
const values: Buffer[] = []
for await (const record of kafka.read(from!)) {
  if (values.length >= events) break
  values.push(record.value!)
}
await kafka.admin.close()
const partitions = 6
const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
  clientId: 'bench-produce',
  bootstrapBrokers: brokers,
  acks: 1
})
const BATCH = 8192
const started = performance.now()
const inFlight = new Set<Promise<unknown>>()
for (let i = 0; i < values.length; i += BATCH) {
  const messages = values
    .slice(i, i + BATCH)
    .map((value, j) => ({ topic: to!, partition: (i + j) % partitions, value }))
  const sent = producer.send({ messages })
  inFlight.add(sent)
  void sent.finally(() => inFlight.delete(sent))
  if (inFlight.size >= 4) await Promise.race(inFlight)
}
await Promise.all(inFlight)
const seconds = (performance.now() - started) / 1000
await producer.close()
report({ events: values.length, seconds })
