import test from 'ava'
import { jsonSerde, stringSerde } from '../../src/lib/serdes.ts'
import { LevelKeyValueStore } from '../../src/stores/level-store.ts'
import { tempDir } from '../helpers/temp-dir.ts'

interface Usage {
  bytes: number
  apps: string[]
}

function usageStore(dir: string): LevelKeyValueStore<string, Usage> {
  return new LevelKeyValueStore({ name: 'usage', dir, keySerde: stringSerde, valueSerde: jsonSerde<Usage>() })
}

test('flushed entries survive a close and reopen, in order', async t => {
  const dir = await tempDir(t)
  const store = usageStore(dir)
  await store.open()
  store.put('u2', { bytes: 2, apps: ['b'] })
  store.put('u1', { bytes: 1, apps: ['a'] })
  store.put('u3', { bytes: 3, apps: [] })
  await store.flush()
  store.delete('u3')
  store.put('u1', { bytes: 10, apps: ['a', 'c'] })
  await store.flush()
  await store.close()

  const reopened = usageStore(dir)
  await reopened.open()
  t.teardown(() => reopened.close())
  t.deepEqual(
    [...reopened.entries()],
    [
      ['u1', { bytes: 10, apps: ['a', 'c'] }],
      ['u2', { bytes: 2, apps: ['b'] }]
    ]
  )
})

test('changes not flushed before close are dropped', async t => {
  const dir = await tempDir(t)
  const store = usageStore(dir)
  await store.open()
  store.put('kept', { bytes: 1, apps: [] })
  await store.flush()
  store.put('dropped', { bytes: 2, apps: [] })
  store.delete('kept')
  await store.close()

  await store.open()
  t.teardown(() => store.close())
  t.deepEqual(
    [...store.entries()].map(([key]) => key),
    ['kept']
  )
})

test('wipe on a closed store removes its files', async t => {
  const dir = await tempDir(t)
  const store = usageStore(dir)
  await store.open()
  store.put('a', { bytes: 1, apps: [] })
  await store.flush()
  await store.close()
  await store.wipe()
  await store.open()
  t.teardown(() => store.close())
  t.is(store.size, 0)
})

test('a second instance cannot open a directory in use', async t => {
  const dir = await tempDir(t)
  const first = usageStore(dir)
  await first.open()
  t.teardown(() => first.close())
  await t.throwsAsync(usageStore(dir).open())
})
