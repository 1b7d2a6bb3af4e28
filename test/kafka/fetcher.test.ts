import test from 'ava'
import { Producer } from '@platformatic/kafka'
import { Fetcher, READ_UNCOMMITTED, readToEnd } from '../../src/kafka/fetcher.ts'
import { createConsumer, createProducer, createTransactionalProducer } from '../../src/kafka/clients.ts'
import { kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'

async function readAll(fetcher: Fetcher, topic: string, partitions: number): Promise<string[]> {
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
    await tx.send({
      messages: [{ topic: topic!, partition: 0, value: Buffer.from(`${i % 2 === 0 ? 'kept' : 'aborted'}-${i}`) }]
    })
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
  for await (const batch of readToEnd(fetcher, topic!, new Map([[1, 990n]])))
    for (const r of batch) tail.push(r.value!.toString())
  t.deepEqual(tail, values.filter((_, i) => i % 3 === 1).slice(990))
})

test('keys, headers, timestamps, empty and null values, and compressed batches decode as produced', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'fetch-forms', partitions: 1 }])
  const sent = [
    {
      key: Buffer.from('k1'),
      value: Buffer.from('plain'),
      headers: new Map([
        [Buffer.from('h'), Buffer.from('v')],
        [Buffer.from('two'), Buffer.from('')]
      ]),
      timestamp: 1_700_000_000_123n
    },
    { key: undefined, value: Buffer.from(''), timestamp: 1_700_000_000_000n },
    { key: Buffer.from('no value'), value: undefined, timestamp: 1_699_999_999_000n },
    { key: Buffer.from('ü'), value: Buffer.from('x'.repeat(300) + 'ñ'), timestamp: 1_700_000_001_000n }
  ]
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    const producer = new Producer({ clientId: 'test', bootstrapBrokers: brokers, compression })
    await producer.send({ messages: sent.map(m => ({ topic: topic!, partition: 0, ...m })) })
    await producer.close()
  }
  const consumer = createConsumer(brokers, 'test', uniqueName('unused'))
  t.teardown(() => consumer.close(true))
  const read: unknown[] = []
  for await (const batch of readToEnd(new Fetcher(consumer), topic!, new Map([[0, 0n]]))) {
    for (const r of batch) {
      read.push({
        offset: r.source.offset,
        key: r.key?.toString() ?? null,
        value: r.value?.toString() ?? null,
        timestamp: r.timestamp,
        headers: (r.headers ?? []).map(([k, v]) => [k?.toString(), v?.toString()])
      })
    }
  }
  const expected = [0, 1, 2].flatMap(round =>
    sent.map((m, i) => ({
      offset: BigInt(round * sent.length + i),
      key: m.key?.toString() ?? null,
      value: m.value?.toString() ?? null,
      timestamp: Number(m.timestamp),
      headers: [...(m.headers ?? [])].map(([k, v]) => [k.toString(), v.toString()])
    }))
  )
  t.deepEqual(read, expected)
})
