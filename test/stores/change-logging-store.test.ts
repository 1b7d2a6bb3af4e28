import test from 'ava'
import { int64Serde, stringSerde } from '../../src/lib/serdes.ts'
import { ChangeLoggingStore } from '../../src/stores/change-logging-store.ts'
import { InMemoryChangelog } from '../../src/stores/in-memory-changelog.ts'
import { InMemoryKeyValueStore } from '../../src/stores/in-memory-store.ts'
import { LevelKeyValueStore } from '../../src/stores/level-store.ts'
import { type ChangeRecord, type ChangelogWriter } from '../../src/stores/types.ts'
import { tempDir } from './temp-dir.ts'

function decoded (records: readonly ChangeRecord[]): Array<[string, number | null]> {
  return records.map(r => [r.key.toString(), r.value === null ? null : int64Serde.deserialize(r.value)])
}

async function loggedStore (changelog: ChangelogWriter): Promise<ChangeLoggingStore<string, number>> {
  const store = new ChangeLoggingStore(new InMemoryKeyValueStore({ name: 'counts', keySerde: stringSerde, valueSerde: int64Serde }), changelog)
  await store.open()
  return store
}

test('a flush sends one record per dirty key: its last value, or a tombstone', async t => {
  const changelog = new InMemoryChangelog()
  const store = await loggedStore(changelog)
  store.put('untouched', 0)
  store.put('deleted', 1)
  await store.flush()
  t.deepEqual(decoded(changelog.records), [['untouched', 0], ['deleted', 1]])

  store.put('a', 1)
  store.put('a', 2)
  store.put('b', 5)
  store.put('a', 3)
  store.delete('deleted')
  store.put('short-lived', 9)
  store.delete('short-lived')
  await store.flush()
  t.deepEqual(decoded(changelog.records.slice(2)).sort(), [['a', 3], ['b', 5], ['deleted', null], ['short-lived', null]].sort())
})

test('a flush with nothing dirty sends nothing', async t => {
  const sent: ChangeRecord[][] = []
  const store = await loggedStore({ send: records => { sent.push(records) } })
  await store.flush()
  store.put('a', 1)
  await store.flush()
  await store.flush()
  t.is(sent.length, 1)
})

test('writes made while a flush awaits the changelog go out with the next flush', async t => {
  const changelog = new InMemoryChangelog()
  let release = (): void => {}
  const slow: ChangelogWriter = {
    send: records => new Promise<void>(resolve => { release = () => { changelog.send(records); resolve() } })
  }
  const store = await loggedStore(slow)
  store.put('a', 1)
  const flushing = store.flush()
  store.put('a', 2)
  release()
  await flushing
  t.deepEqual(decoded(changelog.records), [['a', 1]])
  const next = store.flush()
  release()
  await next
  t.deepEqual(decoded(changelog.records), [['a', 1], ['a', 2]])
})

test('a failed send keeps the changes for the next flush', async t => {
  const changelog = new InMemoryChangelog()
  let fail = true
  const flaky: ChangelogWriter = {
    send: records => {
      if (fail) throw new Error('broker gone')
      changelog.send(records)
    }
  }
  const store = await loggedStore(flaky)
  store.put('a', 1)
  store.put('b', 2)
  await t.throwsAsync(store.flush(), { message: 'broker gone' })
  fail = false
  store.put('b', 3)
  await store.flush()
  t.deepEqual(decoded(changelog.records).sort(), [['a', 1], ['b', 3]])
})

test('the changelog and LevelDB get the same records, and restored records are not logged again', async t => {
  const changelog = new InMemoryChangelog()
  const flushed: number[] = []
  const dir = await tempDir(t)
  const level = new LevelKeyValueStore({ name: 'counts', dir, keySerde: stringSerde, valueSerde: int64Serde })
  const store = new ChangeLoggingStore(level, changelog, { onFlush: (_name, records) => flushed.push(records) })
  await store.open()
  store.put('a', 1)
  store.put('b', 2)
  await store.flush()
  await store.restore([{ key: Buffer.from('c'), value: int64Serde.serialize(3) }])
  await store.flush()
  await store.close()
  t.deepEqual(flushed, [2])
  t.deepEqual(decoded(changelog.records), [['a', 1], ['b', 2]])

  await level.open()
  t.teardown(() => level.close())
  t.deepEqual([...level.entries()], [['a', 1], ['b', 2], ['c', 3]])
})
