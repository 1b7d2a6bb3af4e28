// The usual compositions: LevelDB when the store has a directory, memory otherwise, each
// logged to a changelog when the runtime gives one.
import { type Serde } from '../lib/serdes.ts'
import { ChangeLoggingStore, type ChangeLoggingOptions } from './change-logging-store.ts'
import { InMemoryKeyValueStore } from './in-memory-store.ts'
import { LevelKeyValueStore } from './level-store.ts'
import { type ChangelogWriter, type KeyValueStore, type LocalStore, type WindowStore } from './types.ts'
import { TimeWindowStore, windowedSerde } from './window-store.ts'

export interface StoreOptions<K, V> extends ChangeLoggingOptions {
  name: string
  keySerde: Serde<K>
  valueSerde: Serde<V>
  /** The store's own directory (LevelDB); in memory only when absent. */
  dir?: string
  changelog?: ChangelogWriter
}

export function createKeyValueStore<K, V> (options: StoreOptions<K, V>): KeyValueStore<K, V> {
  const { dir, changelog } = options
  const local: LocalStore<K, V> = dir === undefined ? new InMemoryKeyValueStore(options) : new LevelKeyValueStore({ ...options, dir })
  return changelog === undefined ? local : new ChangeLoggingStore(local, changelog, options)
}

export function createWindowStore<K, V> (options: StoreOptions<K, V>): WindowStore<K, V> {
  return new TimeWindowStore(createKeyValueStore({ ...options, keySerde: windowedSerde(options.keySerde) }))
}
