import test from 'ava'
import { int64Serde, stringSerde, tupleSerde } from '../../src/lib/serdes.ts'
import { InMemoryChangelog } from '../../src/stores/in-memory-changelog.ts'
import { LoggedStore } from '../../src/stores/logged-store.ts'
import { levelDbStores, windowStore } from '../../src/stores/supplier.ts'
import { type WindowStore } from '../../src/stores/types.ts'
import { TimeWindowStore, windowedSerde } from '../../src/stores/window-store.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const FIVE_MINUTES = 300_000
const T0 = 1_764_288_000_000 // 2025-11-28T00:00:00Z

type Key = [string, string]

const keySerde = tupleSerde<Key>(stringSerde, stringSerde)

async function bytesStore(dir?: string): Promise<WindowStore<Key, number>> {
  const store = windowStore(levelDbStores, { name: 'bytes', dir, keySerde, valueSerde: int64Serde })
  await store.open()
  return store
}

function starts(store: WindowStore<Key, number>, end = Number.MAX_SAFE_INTEGER): Array<[number, string]> {
  return [...store.windowsUpTo(end)].map(e => [e.start - T0, e.key.join(':')])
}

test('get, put and delete address one (window, key)', async t => {
  const store = await bytesStore()
  store.put(T0, ['user', 'u1'], 10)
  store.put(T0 + FIVE_MINUTES, ['user', 'u1'], 20)
  t.is(store.get(T0, ['user', 'u1']), 10)
  t.is(store.get(T0 + FIVE_MINUTES, ['user', 'u1']), 20)
  t.is(store.get(T0, ['user', 'u2']), undefined)
  t.true(store.delete(T0, ['user', 'u1']))
  t.is(store.get(T0, ['user', 'u1']), undefined)
  t.is(store.size, 1)
})

test('entries come in window-start order, then key order, whatever the insertion order', async t => {
  const store = await bytesStore()
  store.put(T0 + 2 * FIVE_MINUTES, ['app', 'mail'], 1)
  store.put(T0, ['user', 'u2'], 1)
  store.put(T0 + FIVE_MINUTES, ['antenna', 'a1'], 1)
  store.put(T0, ['user', 'u1'], 1)
  store.put(T0, ['app', 'web'], 1)
  // 2^32 ms apart: the low word alone would sort them the other way round.
  store.put(2 ** 32, ['user', 'u1'], 1)
  store.put(2 ** 32 - 1, ['user', 'u1'], 1)
  t.deepEqual(
    [...store.entries()].map(e => e.start),
    [2 ** 32 - 1, 2 ** 32, T0, T0, T0, T0 + FIVE_MINUTES, T0 + 2 * FIVE_MINUTES]
  )
  t.deepEqual(starts(store).slice(2), [
    [0, 'app:web'],
    [0, 'user:u1'],
    [0, 'user:u2'],
    [FIVE_MINUTES, 'antenna:a1'],
    [2 * FIVE_MINUTES, 'app:mail']
  ])
})

test('windowsUpTo yields the windows that started before the bound; taking them deletes them', async t => {
  const changelog = new InMemoryChangelog()
  const logged = new LoggedStore(
    levelDbStores.keyValue({ name: 'bytes', keySerde: windowedSerde(keySerde), valueSerde: int64Serde }),
    { topic: 'bytes-changelog', partition: 0 }
  )
  await logged.recover(changelog)
  const store = new TimeWindowStore(logged)
  const commit = async (): Promise<void> => {
    const changes = logged.takeChanges()
    await logged.committed(changes, changelog.append(changes))
  }
  for (let w = 0; w < 4; w++) {
    store.put(T0 + w * FIVE_MINUTES, ['user', 'u1'], w)
    store.put(T0 + w * FIVE_MINUTES, ['app', 'web'], w)
  }
  await commit()
  t.deepEqual(starts(store, T0), [])
  t.deepEqual(starts(store, T0 + 1), [
    [0, 'app:web'],
    [0, 'user:u1']
  ])
  t.deepEqual(starts(store, T0 + FIVE_MINUTES), [
    [0, 'app:web'],
    [0, 'user:u1']
  ])

  const closed = store.takeWindowsUpTo(T0 + 2 * FIVE_MINUTES)
  t.deepEqual(
    closed.map(e => [e.start - T0, e.key.join(':'), e.value]),
    [
      [0, 'app:web', 0],
      [0, 'user:u1', 0],
      [FIVE_MINUTES, 'app:web', 1],
      [FIVE_MINUTES, 'user:u1', 1]
    ]
  )
  t.deepEqual(starts(store), [
    [2 * FIVE_MINUTES, 'app:web'],
    [2 * FIVE_MINUTES, 'user:u1'],
    [3 * FIVE_MINUTES, 'app:web'],
    [3 * FIVE_MINUTES, 'user:u1']
  ])

  await commit()
  const tombstones = changelog.records.slice(8)
  t.is(tombstones.length, 4)
  t.true(tombstones.every(r => r.value === null))
  t.deepEqual(tombstones.map(r => windowedSerde(keySerde).deserialize(r.key).start - T0).sort(), [
    0,
    0,
    FIVE_MINUTES,
    FIVE_MINUTES
  ])
})

test('deleting while iterating windowsUpTo is safe', async t => {
  const store = await bytesStore()
  for (let w = 0; w < 3; w++) store.put(T0 + w * FIVE_MINUTES, ['user', 'u1'], w)
  const emitted: number[] = []
  for (const entry of store.windowsUpTo(T0 + 2 * FIVE_MINUTES)) {
    emitted.push(entry.value)
    store.delete(entry.start, entry.key)
  }
  t.deepEqual(emitted, [0, 1])
  t.deepEqual(starts(store), [[2 * FIVE_MINUTES, 'user:u1']])
})

test('windowed keys read back, and their binary string matches their bytes', t => {
  const serde = windowedSerde(tupleSerde<Key>(stringSerde, stringSerde))
  const value = { start: T0, key: ['user', 'ü1'] as Key }
  t.deepEqual(serde.deserialize(serde.serialize(value)), value)
  t.is(serde.toBinaryString!(value), serde.serialize(value).toString('latin1'))
  t.throws(() => serde.toBinaryString!({ start: -1, key: value.key }), { instanceOf: RangeError })
})

test('window starts must be non-negative whole milliseconds', async t => {
  const store = await bytesStore()
  t.throws(() => store.put(-1, ['user', 'u1'], 1), { instanceOf: RangeError })
  t.throws(() => store.put(1.5, ['user', 'u1'], 1), { instanceOf: RangeError })
  t.deepEqual(starts(store, -5), [])
})

test('a LevelDB window store keeps its windows across a reopen', async t => {
  const dir = await tempDir(t)
  const store = await bytesStore(dir)
  store.put(T0 + FIVE_MINUTES, ['user', 'u1'], 7)
  store.put(T0, ['user', 'u1'], 3)
  await store.flush()
  await store.close()
  const reopened = await bytesStore(dir)
  t.teardown(() => reopened.close())
  t.deepEqual(
    [...reopened.entries()],
    [
      { start: T0, key: ['user', 'u1'], value: 3 },
      { start: T0 + FIVE_MINUTES, key: ['user', 'u1'], value: 7 }
    ]
  )
})
