// Restore of a window store: `keys` distinct (window, user) keys written to a one-partition
// changelog topic as the runtime writes them, then restored into an empty LevelDB store the
// way an instance restores an owner partition that moved to it (state folder empty).
// Usage: node bench/stages/restore.ts <topic> <keys>
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Producer } from '@platformatic/kafka'
import { createConsumer } from '../../src/kafka/clients.ts'
import { Fetcher } from '../../src/kafka/fetcher.ts'
import { kafkaBrokersFromEnv } from '../../src/lib/config.ts'
import { parseBrokers } from '../../src/lib/options.ts'
import { int64Serde, stringSerde } from '../../src/lib/serdes.ts'
import { changelogReader } from '../../src/runtime/kafka-changelog.ts'
import { ownedWindowSerde } from '../../src/runtime/owner-task.ts'
import { LevelKeyValueStore, recoverStore, windowedSerde } from '../../src/stores/index.ts'
import { report } from '../lib/result.ts'

const [topic, keysArg] = process.argv.slice(2)
const keys = Number(keysArg)
const brokers = parseBrokers(kafkaBrokersFromEnv())
const keySerde = windowedSerde(stringSerde)
const valueSerde = ownedWindowSerde(int64Serde)
const WINDOW_MS = 300_000
const start = Date.parse('2026-11-01T00:00:00Z')

// 1,000 windows of 1,000 users each by default: what 1M open (window, user) keys look like.
const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
  clientId: 'bench-restore',
  bootstrapBrokers: brokers,
  acks: 1
})
for (let i = 0; i < keys; i += 8192) {
  const messages = []
  for (let k = i; k < Math.min(keys, i + 8192); k++) {
    const user = `00000000-0000-4000-8000-${String(k % 1000).padStart(12, '0')}`
    messages.push({
      topic: topic!,
      partition: 0,
      key: keySerde.serialize({ start: start + Math.floor(k / 1000) * WINDOW_MS, key: user }),
      value: valueSerde.serialize({ value: k, emitted: false, changed: true })
    })
  }
  await producer.send({ messages })
}
await producer.close()

const dir = await mkdtemp(join(tmpdir(), 'cellstream-bench-restore-'))
const consumer = createConsumer(brokers, 'bench-restore', `${topic}-restore`)
const store = new LevelKeyValueStore({ name: 'restore', dir, keySerde, valueSerde })
const started = performance.now()
const result = await recoverStore(store, changelogReader(new Fetcher(consumer), topic!, 0))
const seconds = (performance.now() - started) / 1000
await store.close()
await consumer.close(true)
await rm(dir, { recursive: true, force: true })
report({ events: result.records, seconds })
