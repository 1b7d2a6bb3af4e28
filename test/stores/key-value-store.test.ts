import test, { type ExecutionContext } from 'ava'
import { CellstreamError } from '../../src/lib/errors.ts'
import { int64Serde, stringSerde } from '../../src/lib/serdes.ts'
import { InMemoryKeyValueStore } from '../../src/stores/in-memory-store.ts'
import { LevelKeyValueStore } from '../../src/stores/level-store.ts'
import { type KeyValueStore } from '../../src/stores/types.ts'
import { tempDir } from '../helpers/temp-dir.ts'

type Open = (t: ExecutionContext) => Promise<KeyValueStore<string, number>>

const kinds: Array<[string, Open]> = [
  [
    'in memory',
    async () => new InMemoryKeyValueStore({ name: 'counts', keySerde: stringSerde, valueSerde: int64Serde })
  ],
  [
    'LevelDB',
    async t =>
      new LevelKeyValueStore({ name: 'counts', dir: await tempDir(t), keySerde: stringSerde, valueSerde: int64Serde })
  ]
]

async function opened(t: ExecutionContext, open: Open): Promise<KeyValueStore<string, number>> {
  const store = await open(t)
  await store.open()
  t.teardown(() => store.close())
  return store
}

for (const [kind, open] of kinds) {
  test(`${kind}: put, get, has, delete and size`, async t => {
    const store = await opened(t, open)
    t.is(store.get('a'), undefined)
    store.put('a', 1)
    store.put('b', 2)
    store.put('a', 3)
    t.is(store.get('a'), 3)
    t.true(store.has('b'))
    t.is(store.size, 2)
    t.true(store.delete('a'))
    t.false(store.delete('a'))
    t.is(store.get('a'), undefined)
    t.false(store.has('a'))
    t.is(store.size, 1)
  })

  test(`${kind}: entries come in key byte order, whatever the insertion order`, async t => {
    const store = await opened(t, open)
    for (const key of ['b', 'é', 'a', 'ab', 'B', '']) store.put(key, key.length)
    const expected = ['', 'B', 'a', 'ab', 'b', 'é']
    t.deepEqual(
      [...store.entries()].map(([key]) => key),
      expected
    )
    store.put('aa', 0)
    store.delete('B')
    t.deepEqual(
      [...store.entries()].map(([key]) => key),
      ['', 'a', 'aa', 'ab', 'b', 'é']
    )
  })

  test(`${kind}: keyRange takes serialized bounds, from inclusive, to exclusive`, async t => {
    const store = await opened(t, open)
    for (const key of ['a1', 'a2', 'b1', 'b2', 'c1']) store.put(key, 0)
    const keys = (from?: string, to?: string): string[] =>
      [
        ...store.keyRange(
          from === undefined ? undefined : Buffer.from(from),
          to === undefined ? undefined : Buffer.from(to)
        )
      ].map(([key]) => key)
    t.deepEqual(keys('b', 'c'), ['b1', 'b2'])
    t.deepEqual(keys(undefined, 'b1'), ['a1', 'a2'])
    t.deepEqual(keys('b2'), ['b2', 'c1'])
    t.deepEqual(keys(), ['a1', 'a2', 'b1', 'b2', 'c1'])
    // Once sorted, ranges are served from the sorted index; the answers must not change.
    t.deepEqual([...store.entries()].length, 5)
    t.deepEqual(keys('b', 'c'), ['b1', 'b2'])
    t.deepEqual(keys('a2', 'a3'), ['a2'])
  })

  test(`${kind}: deleting entries while iterating skips them`, async t => {
    const store = await opened(t, open)
    for (const key of ['a', 'b', 'c', 'd']) store.put(key, 0)
    const seen: string[] = []
    for (const [key] of store.entries()) {
      seen.push(key)
      store.delete(key)
      if (key === 'a') store.delete('c')
    }
    t.deepEqual(seen, ['a', 'b', 'd'])
    t.is(store.size, 0)
  })

  test(`${kind}: a closed store refuses reads and writes`, async t => {
    const store = await open(t)
    t.throws(() => store.get('a'), { instanceOf: CellstreamError, message: /state store counts is not open/ })
    await store.open()
    store.put('a', 1)
    await store.close()
    t.throws(() => store.put('a', 2), { instanceOf: CellstreamError })
  })

  test(`${kind}: wipe empties an open store that stays usable`, async t => {
    const store = await opened(t, open)
    store.put('a', 1)
    await store.flush()
    await store.wipe()
    t.is(store.size, 0)
    store.put('b', 2)
    t.deepEqual([...store.entries()], [['b', 2]])
  })
}
