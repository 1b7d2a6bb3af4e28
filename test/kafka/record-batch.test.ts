import test from 'ava'
import { Reader, jsCRC32C, readRecordsBatch } from '@platformatic/kafka'
import { RecordBatchBuilder, type PayloadWriter } from '../../src/kafka/record-batch.ts'

const buffers: PayloadWriter<Buffer> = {
  maxBytes: value => value.length,
  write: (value, target, at) => at + value.copy(target, at)
}

test('a batch decodes with the client library: keys, values, offsets, timestamp and CRC', t => {
  // Lengths around the varint boundaries (63/64 and 8191/8192 bytes), which move the value.
  const values = [0, 1, 10, 63, 64, 150, 8191, 8192, 20_000].map((n, i) => Buffer.alloc(n, 97 + i))
  const keys = values.map((_, i) => (i % 2 === 0 ? null : Buffer.from(`key-${i}`)))
  const builder = new RecordBatchBuilder(64 * 1024)
  values.forEach((value, i) => t.true(builder.add(keys[i]!, buffers, value)))
  const batch = builder.seal(1_700_000_000_123)

  const decoded = readRecordsBatch(Reader.from(batch))
  t.is(decoded.magic, 2)
  t.is(decoded.length, batch.length - 12)
  t.is(decoded.crc, jsCRC32C(batch.subarray(21)))
  t.is(decoded.firstTimestamp, 1_700_000_000_123n)
  t.is(decoded.maxTimestamp, 1_700_000_000_123n)
  t.is(decoded.lastOffsetDelta, values.length - 1)
  t.is(decoded.producerId, -1n)
  t.is(decoded.records.length, values.length)
  decoded.records.forEach((record, i) => {
    t.is(record.offsetDelta, i)
    t.is(record.timestampDelta, 0n)
    t.deepEqual(record.key, keys[i] === null ? null : keys[i])
    t.true(record.value!.equals(values[i]!), `value ${i}`)
    t.deepEqual(record.headers, [])
  })
})

test('a record that does not fit is refused and leaves the batch as it was', t => {
  const builder = new RecordBatchBuilder(1000)
  t.true(builder.add(null, buffers, Buffer.alloc(500, 1)))
  t.false(builder.add(null, buffers, Buffer.alloc(500, 2)))
  t.is(builder.count, 1)
  const decoded = readRecordsBatch(Reader.from(builder.seal(0)))
  t.is(decoded.records.length, 1)
  t.true(decoded.records[0]!.value!.equals(Buffer.alloc(500, 1)))
})

test("an idempotent producer's stamp goes into the header, under the CRC", t => {
  const builder = new RecordBatchBuilder(1000)
  t.true(builder.add(null, buffers, Buffer.from('x')))
  const batch = builder.seal(0, { producerId: 4242n, producerEpoch: 7, baseSequence: 2_000_000_000 })
  const decoded = readRecordsBatch(Reader.from(batch))
  t.deepEqual([decoded.producerId, decoded.producerEpoch, decoded.firstSequence], [4242n, 7, 2_000_000_000])
  t.is(decoded.crc, jsCRC32C(batch.subarray(21)))
})
