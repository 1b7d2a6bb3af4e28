import test from 'ava'
import { Fetcher, READ_UNCOMMITTED, readToEnd } from '../../src/kafka/fetcher.ts'
import { createConsumer, createProducer, createTransactionalProducer } from '../../src/kafka/clients.ts'
import { kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'

async function readAll (fetcher: Fetcher, topic: string, partitions: number): Promise<string[]> {
  const values: string[] = []
  for await (const batch of readToEnd(fetcher, topic, new Map(Array.from({ length: partitions }, (_, p) => [p, 0n])))) {
    for (const record of batch) values.push(record.value!.toString())
  }
  return values.sort()
}

test('read_committed drops every aborted transaction, not only the last one of each producer', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'fetch-txn', partitions: 1 }])
  const producer = createTransactionalProducer(brokers, 'test', uniqueName('txn'))
  t.teardown(() => producer.close(true))
  const expected: string[] = []
  for (let i = 0; i < 6; i++) {
    const tx = await producer.beginTransaction()
    await tx.send({ messages: [{ topic: topic!, partition: 0, value: Buffer.from(`${i % 2 === 0 ? 'kept' : 'aborted'}-${i}`) }] })
    if (i % 2 === 0) {
      await tx.commit()
      expected.push(`kept-${i}`)
    } else {
      await tx.abort()
    }
  }
  const consumer = createConsumer(brokers, 'test', uniqueName('unused'))
  t.teardown(() => consumer.close(true))
  t.deepEqual(await readAll(new Fetcher(consumer), topic!, 1), expected)
  const uncommitted = await readAll(new Fetcher(consumer, { isolationLevel: READ_UNCOMMITTED }), topic!, 1)
  t.is(uncommitted.length, 6)
})

test('readToEnd reads every partition from the given offsets up to the end', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'fetch-all', partitions: 3 }])
  const producer = createProducer(brokers, 'test')
  t.teardown(() => producer.close())
  const values = Array.from({ length: 3000 }, (_, i) => `v${String(i).padStart(4, '0')}`)
  await producer.send({ messages: values.map((v, i) => ({ topic: topic!, partition: i % 3, value: Buffer.from(v) })) })
  const consumer = createConsumer(brokers, 'test', uniqueName('unused'))
  t.teardown(() => consumer.close(true))
  const fetcher = new Fetcher(consumer, { maxBytes: 16 << 10, partitionMaxBytes: 4 << 10 })
  t.deepEqual(await readAll(fetcher, topic!, 3), values)
  const tail: string[] = []
  for await (const batch of readToEnd(fetcher, topic!, new Map([[1, 990n]]))) for (const r of batch) tail.push(r.value!.toString())
  t.deepEqual(tail, values.filter((_, i) => i % 3 === 1).slice(990))
})
