import test from 'ava'
import { DataError } from '../../src/lib/errors.ts'
import { partitionForKey } from '../../src/lib/hash.ts'
import { int64Serde, stringSerde, writeInt64 } from '../../src/lib/serdes.ts'
import { encodeHeartbeat, MAX_PACKED_BYTES, partialsCodec, type Partial } from '../../src/runtime/partials-codec.ts'

const codec = partialsCodec(stringSerde, int64Serde)

function decodeAll(records: Array<{ key: Buffer; value: Buffer }>): Array<Partial<string, number>> {
  const partials: Array<Partial<string, number>> = []
  for (const record of records) {
    const decoded = codec.decode(record.key, record.value)
    if (decoded.kind !== 'partials') throw new Error('expected partials')
    partials.push(...decoded.partials)
  }
  return partials
}

test('partials are packed per owner partition, each on the partition of its key', t => {
  const partials = Array.from({ length: 500 }, (_, i) => ({
    start: 300_000 * (i % 7),
    key: `user-${i}`,
    value: i * 1000
  }))
  const records = codec.encodePartials('usage:3', partials, 4)
  t.true(records.length <= 4)
  for (const record of records) {
    for (const partial of decodeAll([record]))
      t.is(record.partition, partitionForKey(stringSerde.serialize(partial.key), 4))
  }
  const decoded = decodeAll(records).sort((a, b) => a.value - b.value)
  t.deepEqual(decoded, partials)
})

test('a packed record stays under its size bound, and order within a partition is kept', t => {
  const partials = Array.from({ length: 20_000 }, (_, i) => ({ start: i * 1000, key: 'one-key', value: i }))
  const records = codec.encodePartials('usage:0', partials, 3)
  t.true(records.length > 1)
  for (const record of records) t.true(record.value.length <= MAX_PACKED_BYTES)
  t.deepEqual(decodeAll(records), partials)
})

test('records of one partial each (the earlier format) and heartbeats still read', t => {
  const key = Buffer.concat([Buffer.from([0]), Buffer.from('user-1')])
  const value = Buffer.alloc(16)
  writeInt64(value, 0, 600_000)
  writeInt64(value, 8, 42)
  t.deepEqual(codec.decode(key, value), { kind: 'partials', partials: [{ start: 600_000, key: 'user-1', value: 42 }] })
  const heartbeat = encodeHeartbeat('usage:2', 123_000, true)
  t.deepEqual(codec.decode(heartbeat.key, heartbeat.value), {
    kind: 'heartbeat',
    source: 'usage:2',
    streamTime: 123_000,
    idle: true
  })
})

test('a truncated packed record is a data error', t => {
  const [record] = codec.encodePartials('usage:0', [{ start: 0, key: 'k', value: 1 }], 1)
  t.throws(() => codec.decode(record!.key, record!.value.subarray(0, record!.value.length - 3)), {
    instanceOf: DataError
  })
})
