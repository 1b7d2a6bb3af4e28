import test from 'ava'
import { DataError } from '../../src/lib/errors.ts'
import {
  binaryString,
  bigint64Serde,
  bufferSerde,
  int64Serde,
  jsonSerde,
  stringSerde,
  tupleSerde,
  uuidSerde,
  type Serde
} from '../../src/lib/serdes.ts'

function roundTrip<T>(serde: Serde<T>, value: T): T {
  return serde.deserialize(serde.serialize(value))
}

test('string, buffer and json values read back equal', t => {
  t.is(roundTrip(stringSerde, 'héllo ✓'), 'héllo ✓')
  t.is(roundTrip(stringSerde, ''), '')
  t.deepEqual(roundTrip(bufferSerde, Buffer.from([0, 255])), Buffer.from([0, 255]))
  const json = jsonSerde<{ bytes: number; apps: string[] }>()
  t.deepEqual(roundTrip(json, { bytes: 42, apps: ['a', 'b'] }), { bytes: 42, apps: ['a', 'b'] })
})

test('json says what it could not parse', t => {
  const error = t.throws(() => jsonSerde().deserialize(Buffer.from('{nope')), { instanceOf: DataError })
  t.regex(error.message, /^not JSON: 0x/)
})

test('int64 keeps every safe integer and refuses the rest', t => {
  for (const value of [
    0,
    1,
    -1,
    2 ** 32,
    -(2 ** 32) - 1,
    1_764_300_000_000,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER
  ]) {
    t.is(roundTrip(int64Serde, value), value)
    t.is(int64Serde.serialize(value).readBigInt64BE(0), BigInt(value))
  }
  t.throws(() => int64Serde.serialize(1.5), { instanceOf: RangeError })
  t.throws(() => int64Serde.serialize(2 ** 53), { instanceOf: RangeError })
  t.throws(() => int64Serde.deserialize(Buffer.alloc(4)), { instanceOf: DataError })
  t.throws(() => int64Serde.deserialize(Buffer.from('7fffffffffffffff', 'hex')), { instanceOf: DataError })
})

test('int64 bytes of non-negative numbers sort numerically', t => {
  const values = [300_000, 0, 2 ** 40, 5, 2 ** 32 - 1, 2 ** 32]
  const byBytes = [...values].sort((a, b) => Buffer.compare(int64Serde.serialize(a), int64Serde.serialize(b)))
  t.deepEqual(
    byBytes,
    [...values].sort((a, b) => a - b)
  )
})

test('bigint64 round-trips the whole signed range', t => {
  for (const value of [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)]) t.is(roundTrip(bigint64Serde, value), value)
})

test('uuid packs into 16 bytes and reads back in lower case', t => {
  const id = '9F1C2B3A-4D5E-4F60-8A7B-1C2D3E4F5A6B'
  t.is(uuidSerde.serialize(id).length, 16)
  t.is(roundTrip(uuidSerde, id), id.toLowerCase())
  t.throws(() => uuidSerde.serialize('not-a-uuid'), { instanceOf: RangeError })
  t.throws(() => uuidSerde.deserialize(Buffer.alloc(15)), { instanceOf: DataError })
})

test('tuples of variable-width parts read back unambiguously', t => {
  const serde = tupleSerde<[string, string, number]>(stringSerde, stringSerde, int64Serde)
  t.deepEqual(roundTrip(serde, ['ab', 'c', 7]), ['ab', 'c', 7])
  t.deepEqual(roundTrip(serde, ['a', 'bc', 7]), ['a', 'bc', 7])
  t.deepEqual(roundTrip(serde, ['', '', 0]), ['', '', 0])
  t.notDeepEqual(serde.serialize(['ab', 'c', 7]), serde.serialize(['a', 'bc', 7]))
  t.throws(() => serde.deserialize(Buffer.from([0, 0, 0, 9, 1])), { instanceOf: DataError })
})

test('the binary-string fast path equals the serialized bytes', t => {
  const tuple = tupleSerde<[string, number, string]>(stringSerde, int64Serde, stringSerde)
  const cases: Array<[Serde<never>, unknown[]]> = [
    [stringSerde as Serde<never>, ['', 'plain ascii', 'héllo ✓', '\u0000\u007f\u0080']],
    [
      int64Serde as Serde<never>,
      [0, 255, 256, -1, 2 ** 32, -(2 ** 40) - 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]
    ],
    [
      tuple as Serde<never>,
      [
        ['a', 1, 'b'],
        ['é', -5, ''],
        ['', 2 ** 33, 'x'.repeat(300)]
      ]
    ]
  ]
  for (const [serde, values] of cases) {
    t.truthy(serde.toBinaryString)
    for (const value of values)
      t.is(serde.toBinaryString!(value as never), serde.serialize(value as never).toString('latin1'))
  }
  t.is(tupleSerde<[string, string]>(stringSerde, uuidSerde).toBinaryString, undefined)
  t.is(
    binaryString(uuidSerde, '9f1c2b3a-4d5e-4f60-8a7b-1c2d3e4f5a6b'),
    Buffer.from('9f1c2b3a4d5e4f608a7b1c2d3e4f5a6b', 'hex').toString('latin1')
  )
})
