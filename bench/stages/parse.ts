// Ceiling: JSON.parse of each event's bytes on one core (the first `events` of a topic, read
// into memory first; only the parse loop is timed). Usage: node bench/stages/parse.ts <topic> <events>
import { kafkaBrokersFromEnv } from '../../src/lib/config.ts'
import { parseBrokers } from '../../src/lib/options.ts'
import { BenchKafka } from '../lib/kafka.ts'
import { report } from '../lib/result.ts'

const [topic, events] = process.argv.slice(2)
const kafka = new BenchKafka(parseBrokers(kafkaBrokersFromEnv()), 'unused')
const values: Buffer[] = []
for await (const record of kafka.read(topic!)) {
  if (values.length >= Number(events)) break
  values.push(record.value!)
}
await kafka.admin.close()
let bytes = 0
const cpu = process.cpuUsage()
const started = performance.now()
for (const value of values) bytes += (JSON.parse(value.toString('utf8')) as { bytes: number }).bytes
const seconds = (performance.now() - started) / 1000
const used = process.cpuUsage(cpu)
report({ events: values.length, seconds, parseCpuSeconds: (used.user + used.system) / 1e6, checksum: bytes })
