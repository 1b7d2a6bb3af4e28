import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { int64Serde, stringSerde } from '../../src/lib/serdes.ts'
import { readCheckpoint, removeCheckpoint, writeCheckpoint } from '../../src/stores/checkpoint.ts'
import { InMemoryChangelog } from '../../src/stores/in-memory-changelog.ts'
import { LoggedStore } from '../../src/stores/logged-store.ts'
import { closeStore, recoverStore, restoreStore } from '../../src/stores/restore.ts'
import { levelDbStores } from '../../src/stores/supplier.ts'
import {
  type ChangelogEntry,
  type ChangelogReader,
  type LocalStore,
  type RestoreProgress
} from '../../src/stores/types.ts'
import { tempDir } from '../helpers/temp-dir.ts'

function countsStore(dir?: string): LocalStore<string, number> {
  return levelDbStores.keyValue({ name: 'counts', keySerde: stringSerde, valueSerde: int64Serde, dir })
}

/** Writes `commits` rounds of puts and deletes, each committed through the changelog as the runtime commits. */
async function history(
  store: LocalStore<string, number>,
  changelog: InMemoryChangelog,
  commits: number,
  keys = 50
): Promise<void> {
  const logged = new LoggedStore(store, { topic: 'counts-changelog', partition: 0 })
  for (let c = 0; c < commits; c++) {
    for (let i = 0; i < 20; i++) {
      const key = `k${(c * 7 + i * 13) % keys}`
      if ((c + i) % 5 === 0) logged.delete(key)
      else logged.put(key, c * 100 + i)
    }
    const changes = logged.takeChanges()
    await logged.committed(changes, changelog.append(changes))
  }
}

/** Records where each read started. */
function spy(reader: ChangelogReader): ChangelogReader & { reads: bigint[] } {
  const reads: bigint[] = []
  return {
    reads,
    endOffset: () => reader.endOffset(),
    read: (from, end) => {
      reads.push(from)
      return reader.read(from, end)
    }
  }
}

test('restore from the changelog rebuilds identical contents, compacted or not', async t => {
  const changelog = new InMemoryChangelog()
  const source = countsStore()
  await source.open()
  await history(source, changelog, 30)
  const expected = [...source.entries()]
  t.true(expected.length > 0)

  for (const compact of [false, true]) {
    if (compact) changelog.compact()
    const copy = countsStore()
    await copy.open()
    const progress: RestoreProgress[] = []
    const result = await restoreStore(copy, changelog, { batchSize: 64, onProgress: p => progress.push(p) })
    t.deepEqual([...copy.entries()], expected)
    t.is(result.records, changelog.records.length)
    t.is(result.endOffset, await changelog.endOffset())
    t.is(progress.length, Math.ceil(changelog.records.length / 64) + 1)
    t.deepEqual(progress.at(-1), {
      store: 'counts',
      records: changelog.records.length,
      fromOffset: 0n,
      position: result.endOffset,
      endOffset: result.endOffset
    })
    t.true(
      progress.every(
        (p, i) => i === 0 || (p.records >= progress[i - 1]!.records && p.position >= progress[i - 1]!.position)
      )
    )
  }
})

test('a clean restart restores only the records written after the checkpoint', async t => {
  const dir = await tempDir(t)
  const changelog = new InMemoryChangelog()
  const first = countsStore(dir)
  await recoverStore(first, changelog)
  await history(first, changelog, 10)
  const checkpoint = await changelog.endOffset()
  await closeStore(first, checkpoint)
  t.is(await readCheckpoint(dir), checkpoint)

  // Meanwhile another instance owned the partition and wrote more.
  const other = countsStore()
  await recoverStore(other, changelog)
  await history(other, changelog, 5, 80)
  const after = (await changelog.endOffset()) - checkpoint

  const reader = spy(changelog)
  const second = countsStore(dir)
  const result = await recoverStore(second, reader)
  t.teardown(() => second.close())
  t.true(result.fromCheckpoint)
  t.deepEqual(reader.reads, [checkpoint])
  t.is(BigInt(result.records), after)
  t.deepEqual([...second.entries()], [...other.entries()])
  t.is(await readCheckpoint(dir), undefined, 'the checkpoint is gone once the store may take new writes')
})

test('without a checkpoint local state is wiped and restored from offset 0', async t => {
  const dir = await tempDir(t)
  const changelog = new InMemoryChangelog()
  const store = countsStore(dir)
  await recoverStore(store, changelog)
  await history(store, changelog, 4)
  const committed = [...store.entries()]
  // A flush whose transaction never committed: LevelDB has it, the changelog does not.
  store.put('uncommitted', 1)
  await store.flush()
  await closeStore(store)

  const reader = spy(changelog)
  const result = await recoverStore(store, reader)
  t.teardown(() => store.close())
  t.false(result.fromCheckpoint)
  t.deepEqual(reader.reads, [0n])
  t.deepEqual([...store.entries()], committed)
})

test('a checkpoint beyond the end of the changelog is not trusted', async t => {
  const dir = await tempDir(t)
  const changelog = new InMemoryChangelog()
  const store = countsStore(dir)
  await recoverStore(store, changelog)
  store.put('stale', 1)
  await store.flush()
  await closeStore(store, 1000n)

  const recreated = new InMemoryChangelog()
  recreated.append([{ key: Buffer.from('fresh'), value: int64Serde.serialize(2) }])
  const result = await recoverStore(store, recreated)
  t.teardown(() => store.close())
  t.false(result.fromCheckpoint)
  t.deepEqual([...store.entries()], [['fresh', 2]])
})

test('restore stops between batches when aborted', async t => {
  const changelog = new InMemoryChangelog()
  for (let i = 0; i < 100; i++) changelog.append([{ key: Buffer.from(`k${i}`), value: int64Serde.serialize(i) }])
  const store = countsStore()
  await store.open()
  const controller = new AbortController()
  const restoring = restoreStore(store, changelog, {
    batchSize: 10,
    signal: controller.signal,
    onProgress: p => {
      if (p.records === 30) controller.abort()
    }
  })
  await t.throwsAsync(restoring, { name: 'AbortError' })
  t.is(store.size, 30)
})

test('restore ends at the end offset taken when it started', async t => {
  const changelog = new InMemoryChangelog()
  changelog.append([{ key: Buffer.from('a'), value: int64Serde.serialize(1) }])
  const growing: ChangelogReader = {
    endOffset: () => changelog.endOffset(),
    async *read(from: bigint): AsyncIterable<ChangelogEntry> {
      // A reader that keeps going past the end it was given.
      changelog.append([{ key: Buffer.from('b'), value: int64Serde.serialize(2) }])
      for (const entry of changelog.records) if (entry.offset >= from) yield entry
    }
  }
  const store = countsStore()
  await store.open()
  const result = await restoreStore(store, growing)
  t.is(result.endOffset, 1n)
  t.deepEqual([...store.entries()], [['a', 1]])
})

test('checkpoints round-trip; a missing or unreadable one reads as none', async t => {
  const dir = await tempDir(t)
  t.is(await readCheckpoint(dir), undefined)
  await writeCheckpoint(dir, 12_345_678_901_234_567_890n)
  t.is(await readCheckpoint(dir), 12_345_678_901_234_567_890n)
  await writeFile(join(dir, 'checkpoint'), '{"version":1,"offset":')
  t.is(await readCheckpoint(dir), undefined)
  await writeFile(join(dir, 'checkpoint'), '{"version":2,"offset":"5"}')
  t.is(await readCheckpoint(dir), undefined)
  await removeCheckpoint(dir)
  await removeCheckpoint(dir)
  t.is(await readCheckpoint(dir), undefined)
  await t.throwsAsync(writeCheckpoint(dir, -1n), { instanceOf: RangeError })
})
