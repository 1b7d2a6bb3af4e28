import test from 'ava'
import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import { ensureTopics, partitionCount, pingKafka, withAdmin } from '../../src/kafka/admin.ts'
import { UnavailableError } from '../../src/lib/errors.ts'
import { kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'

test('a record produced to the real broker is consumed back unchanged', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'roundtrip', partitions: 3 }])
  const producer = new Producer({ clientId: 'test', bootstrapBrokers: brokers, serializers: stringSerializers })
  await producer.send({ messages: [{ topic: topic!, key: 'k', value: '{"bytes":1}' }] })
  await producer.close()

  const consumer = new Consumer({
    clientId: 'test',
    groupId: uniqueName('group'),
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers
  })
  t.teardown(() => consumer.close(true))
  const stream = await consumer.consume({ topics: [topic!], mode: 'earliest' })
  for await (const message of stream) {
    t.is(message.key, 'k')
    t.is(message.value, '{"bytes":1}')
    break
  }
})

test('ensureTopics creates missing topics once and leaves existing ones alone', async t => {
  const brokers = await kafkaBrokers()
  const name = uniqueName('ensure')
  t.teardown(() => withAdmin(brokers, admin => admin.deleteTopics({ topics: [name] })).catch(() => {}))
  await withAdmin(brokers, async admin => {
    await ensureTopics(admin, [{ name, partitions: 4, config: { 'cleanup.policy': 'compact' } }])
    await ensureTopics(admin, [{ name, partitions: 2 }])
    t.is(await partitionCount(admin, name), 4)
  })
})

test('an unreachable broker gives a one-line UnavailableError', async t => {
  const error = await t.throwsAsync(pingKafka(['127.0.0.1:1']), { instanceOf: UnavailableError })
  t.regex(error.message, /^Kafka is not reachable at 127\.0\.0\.1:1: /)
  t.false(error.message.includes('\n'))
})
