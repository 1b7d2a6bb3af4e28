// Throughput of the state store path: puts through the in-memory store, the LevelDB store
// (flush every 10k writes) and the logged LevelDB store (a commit every 10k writes, its
// changes kept as the changelog), then window-store read-modify-writes and restore.
// Run: npm exec -- node bench/stores.ts [writes]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { int64Serde, stringSerde, tupleSerde } from '../src/lib/serdes.ts'
import { InMemoryChangelog } from '../src/stores/in-memory-changelog.ts'
import { LoggedStore } from '../src/stores/logged-store.ts'
import { restoreStore } from '../src/stores/restore.ts'
import { inMemoryStores, levelDbStores, windowStore } from '../src/stores/supplier.ts'
import { type StateStore } from '../src/stores/types.ts'
import { TimeWindowStore, windowedSerde } from '../src/stores/window-store.ts'

const WRITES = Number(process.argv[2] ?? 1_000_000)
const KEYS = 100_000
const FLUSH_EVERY = 10_000
const WINDOW = 300_000
const T0 = 1_764_288_000_000

const keys = Array.from({ length: KEYS }, (_, i) => `9f1c2b3a-4d5e-4f60-8a7b-${i.toString(16).padStart(12, '0')}`)
/** What the runtime does at a commit: changes to the changelog, then to local storage. */
async function commit(store: LoggedStore<unknown, number>, changelog?: InMemoryChangelog): Promise<void> {
  const changes = store.takeChanges()
  await store.committed(changes, changelog?.append(changes))
}

async function timed(label: string, count: number, run: () => Promise<void>): Promise<void> {
  const started = performance.now()
  await run()
  const seconds = (performance.now() - started) / 1000
  console.log(
    `${label.padEnd(58)} ${Math.round(count / seconds)
      .toLocaleString('en-US')
      .padStart(11)} /s`
  )
}

async function puts(store: StateStore & { put: (key: string, value: number) => void }): Promise<void> {
  await store.open()
  for (let i = 0; i < WRITES; i++) {
    store.put(keys[i % KEYS]!, i)
    if ((i + 1) % FLUSH_EVERY === 0) await store.flush()
  }
  await store.flush()
  await store.close()
}

const root = await mkdtemp(join(tmpdir(), 'cellstream-bench-'))
try {
  console.log(
    `${WRITES.toLocaleString('en-US')} writes over ${KEYS.toLocaleString('en-US')} keys, flush every ${FLUSH_EVERY.toLocaleString('en-US')}`
  )
  const base = { keySerde: stringSerde, valueSerde: int64Serde }

  await timed('puts, in memory', WRITES, () => puts(inMemoryStores.keyValue({ ...base, name: 'memory' })))
  await timed('puts, LevelDB', WRITES, () =>
    puts(levelDbStores.keyValue({ ...base, name: 'level', dir: join(root, 'level') }))
  )
  await timed('puts, LevelDB, logged', WRITES, async () => {
    const store = new LoggedStore(levelDbStores.keyValue({ ...base, name: 'logged', dir: join(root, 'logged') }), {
      topic: 'logged',
      partition: 0
    })
    await store.open()
    for (let i = 0; i < WRITES; i++) {
      store.put(keys[i % KEYS]!, i)
      if ((i + 1) % FLUSH_EVERY === 0) await commit(store as LoggedStore<unknown, number>)
    }
    await commit(store as LoggedStore<unknown, number>)
    await store.close()
  })

  const changelog = new InMemoryChangelog()
  const windowOptions = { keySerde: tupleSerde<[string, string]>(stringSerde, stringSerde), valueSerde: int64Serde }
  const logged = new LoggedStore(
    levelDbStores.keyValue({
      ...windowOptions,
      keySerde: windowedSerde(windowOptions.keySerde),
      name: 'windows',
      dir: join(root, 'windows')
    }),
    { topic: 'windows', partition: 0 }
  )
  const windows = new TimeWindowStore(logged)
  await timed('window get + put, LevelDB, logged (4 windows open)', WRITES, async () => {
    await windows.open()
    for (let i = 0; i < WRITES; i++) {
      const start = T0 + Math.floor(i / (WRITES / 4)) * WINDOW
      const key: [string, string] = ['user', keys[i % KEYS]!]
      windows.put(start, key, (windows.get(start, key) ?? 0) + 1)
      if ((i + 1) % FLUSH_EVERY === 0) await commit(logged as LoggedStore<unknown, number>, changelog)
    }
    await commit(logged as LoggedStore<unknown, number>, changelog)
    await logged.close()
  })

  const restored = windowStore(levelDbStores, { ...windowOptions, name: 'restored', dir: join(root, 'restored') })
  await restored.open()
  await timed(
    `restore into LevelDB (${changelog.records.length.toLocaleString('en-US')} changelog records)`,
    changelog.records.length,
    async () => {
      await restoreStore(restored, changelog)
    }
  )
  await restored.close()
} finally {
  await rm(root, { recursive: true, force: true })
}
