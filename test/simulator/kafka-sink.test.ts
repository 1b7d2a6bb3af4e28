import test from 'ava'
import { murmur2 } from '../../src/lib/hash.ts'
import { EventEncoder } from '../../src/simulator/event-json.ts'
import { KafkaSink } from '../../src/simulator/kafka-sink.ts'
import { readRecordFile } from '../../src/simulator/record-file.ts'
import { simulate } from '../../src/simulator/run.ts'
import { Traffic, type TrafficOptions } from '../../src/simulator/traffic.ts'
import { kafkaBrokers, readTopic, testTopics } from '../helpers/kafka.ts'
import type { RawRecord } from '../../src/topology/records.ts'
import { BatchProducer } from '../../src/kafka/batch-producer.ts'
import { RecordBatchBuilder } from '../../src/kafka/record-batch.ts'
import { simulateToFile } from '../helpers/simulate-file.ts'

const FROM = Date.parse('2021-03-01T00:00:00Z') / 1000

const buffers = {
  maxBytes: (value: Buffer) => value.length,
  write: (value: Buffer, target: Buffer, at: number) => at + value.copy(target, at)
}

async function produce(
  brokers: string[],
  topic: string,
  options: TrafficOptions,
  events: number,
  keyed: boolean
): Promise<number> {
  const traffic = new Traffic(options)
  const sink = await KafkaSink.open({
    brokers,
    topic,
    partitions: 1,
    keyed,
    encoder: new EventEncoder(traffic.population),
    batchBytes: 16 * 1024
  })
  const result = await simulate({ traffic, sink, from: FROM, to: FROM + 86_400, events })
  await sink.close()
  return result.records
}

test('records reach the broker with null keys, round-robin, exactly as the file holds them', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'simulate', partitions: 3 }])
  const options = { seed: 'kafka', users: 100, rate: 5, badRatio: 0.1 }
  // Small batches so that many requests are in flight at once.
  t.is(await produce(brokers, topic!, options, 6000, false), 6000)
  // Read to the topic's end: a record written twice would show as one too many.
  const messages = await readTopic(topic!)
  t.is(messages.length, 6000)

  const file = await simulateToFile(t, options, { from: FROM, to: FROM + 86_400, events: 6000 })
  const expected: Buffer[] = []
  for await (const payload of readRecordFile(file.path)) expected.push(payload)
  const byPartition: RawRecord[][] = [[], [], []]
  for (const message of messages) byPartition[message.source.partition]!.push(message)
  t.deepEqual(
    byPartition.map(list => list.length),
    [2000, 2000, 2000]
  )
  byPartition.forEach((list, partition) =>
    list.forEach((message, i) => {
      // Record n goes to partition n % 3, in order.
      const want = expected[i * 3 + partition]!
      if (!(message.value ?? Buffer.alloc(0)).equals(want)) t.fail(`partition ${partition} offset ${i}`)
      t.true(message.key === null || message.key === undefined || message.key.length === 0)
      // The Kafka timestamp is the time of sending, not the 2021 event time (retention).
      if (message.timestamp < Date.parse('2025-01-01'))
        t.fail(`record stamped with its event time: ${message.timestamp}`)
    })
  )
})

test('with keys by user, each record is keyed by its id and partitioned like the Java client', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'simulate-keyed', partitions: 4 }])
  t.is(await produce(brokers, topic!, { seed: 'keyed', users: 50, rate: 2 }, 2000, true), 2000)
  const messages = await readTopic(topic!)
  t.is(messages.length, 2000)
  const partitions = new Set<number>()
  for (const message of messages) {
    const event = JSON.parse(message.value!.toString()) as { id: string }
    t.is(message.key!.toString(), event.id)
    t.is(message.source.partition, (murmur2(message.key!) & 0x7fffffff) % 4)
    partitions.add(message.source.partition)
  }
  t.is(partitions.size, 4)
})

test('a batch sent again, as after a timeout that hid its success, is written once', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'simulate-again', partitions: 1 }])
  const producer = await BatchProducer.open({ brokers, topic: topic!, partitions: 1 })
  t.teardown(() => producer.close())
  const batch = (values: string[]): Buffer => {
    const builder = new RecordBatchBuilder(4096)
    for (const value of values) builder.add(null, buffers, Buffer.from(value))
    return builder.seal(Date.now(), producer.stamp(0, values.length))
  }
  const first = batch(['a', 'b'])
  const second = batch(['c'])
  await Promise.all(producer.send([[0, first, 2]]))
  await Promise.all(producer.send([[0, first, 2]]))
  await Promise.all(producer.send([[0, second, 1]]))
  await Promise.all(producer.send([[0, second, 1]]))
  t.deepEqual(
    (await readTopic(topic!)).map(r => r.value!.toString()),
    ['a', 'b', 'c']
  )
})

test('an unreachable broker is a one-line UnavailableError', async t => {
  const traffic = new Traffic({ seed: 'x' })
  const error = await t.throwsAsync(
    KafkaSink.open({
      brokers: ['127.0.0.1:1'],
      topic: 'devices',
      partitions: 1,
      encoder: new EventEncoder(traffic.population)
    })
  )
  t.regex(error.message, /^Kafka is not reachable at 127\.0\.0\.1:1: /)
  t.false(error.message.includes('\n'))
})
