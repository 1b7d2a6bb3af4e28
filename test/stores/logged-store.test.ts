import test from 'ava'
import { int64Serde, stringSerde } from '../../src/lib/serdes.ts'
import { InMemoryChangelog } from '../../src/stores/in-memory-changelog.ts'
import { LevelKeyValueStore } from '../../src/stores/level-store.ts'
import { LoggedStore } from '../../src/stores/logged-store.ts'
import { readCheckpoint } from '../../src/stores/checkpoint.ts'
import { inMemoryStores } from '../../src/stores/supplier.ts'
import { type ChangeRecord } from '../../src/stores/types.ts'
import { tempDir } from '../helpers/temp-dir.ts'

function decoded(records: readonly ChangeRecord[]): Array<[string, number | null]> {
  return records.map(r => [r.key.toString(), r.value === null ? null : int64Serde.deserialize(r.value)])
}

/** What the runtime does at a commit: take the changes, write them to the changelog (the transaction), then tell the store. */
async function commit(store: LoggedStore<string, number>, changelog: InMemoryChangelog): Promise<ChangeRecord[]> {
  const changes = store.takeChanges()
  await store.committed(changes, changelog.append(changes))
  return changes
}

test('a commit takes one record per changed key: its last value, or a tombstone; nothing when nothing changed', async t => {
  const changelog = new InMemoryChangelog()
  const store = new LoggedStore(
    inMemoryStores.keyValue({ name: 'counts', keySerde: stringSerde, valueSerde: int64Serde }),
    { topic: 'counts-changelog', partition: 0 }
  )
  await store.recover(changelog)
  store.put('untouched', 0)
  store.put('deleted', 1)
  t.deepEqual(decoded(await commit(store, changelog)), [
    ['untouched', 0],
    ['deleted', 1]
  ])
  store.put('a', 1)
  store.put('a', 2)
  store.put('b', 5)
  store.delete('deleted')
  store.put('short-lived', 9)
  store.delete('short-lived')
  t.deepEqual(
    decoded(await commit(store, changelog)).sort(),
    [
      ['a', 2],
      ['b', 5],
      ['deleted', null],
      ['short-lived', null]
    ].sort()
  )
  t.deepEqual(await commit(store, changelog), [])
})

test('a store is written by its commits only: flushing it on its own is refused', async t => {
  const store = new LoggedStore(
    inMemoryStores.keyValue({ name: 'counts', keySerde: stringSerde, valueSerde: int64Serde }),
    { topic: 'c', partition: 0 }
  )
  await t.throwsAsync(store.flush(), { message: /written by the commit that carries them/ })
})

test('local files hold exactly the committed changes, and the checkpoint says how far its own records reach', async t => {
  const dir = await tempDir(t)
  const changelog = new InMemoryChangelog()
  const open = (): LoggedStore<string, number> =>
    new LoggedStore(new LevelKeyValueStore({ name: 'counts', dir, keySerde: stringSerde, valueSerde: int64Serde }), {
      topic: 'counts-changelog',
      partition: 0
    })
  const store = open()
  t.is((await store.recover(changelog)).records, 0)
  store.put('a', 1)
  store.put('b', 2)
  await commit(store, changelog)
  // Another instance writes to the changelog meanwhile (the partition moved and came back).
  changelog.append([{ key: Buffer.from('c'), value: int64Serde.serialize(3) }])
  store.put('a', 10)
  const uncommitted = store.takeChanges()
  t.is(uncommitted.length, 1, 'taken for a commit that fails')
  await store.close()
  t.is(await readCheckpoint(dir), 2n, 'just past its own last committed record, not the changelog end (3)')

  const again = open()
  const result = await again.recover(changelog)
  t.true(result.fromCheckpoint)
  t.is(result.records, 1, "only the other instance's record is restored")
  t.deepEqual(
    [...again.entries()],
    [
      ['a', 1],
      ['b', 2],
      ['c', 3]
    ],
    "the failed commit's change is nowhere"
  )
  await again.release()
  t.is(await readCheckpoint(dir), undefined, 'release writes no checkpoint')
})
