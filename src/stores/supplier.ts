// Where a topology's stores come from: a supplier makes the local store of each name, as
// Kafka Streams' StoreSupplier does. The runtime and the test driver take one as an option
// (LevelDB and in memory by default), so another backend is a file implementing this, not an
// edit of the runtime.
import { type Serde } from '../lib/serdes.ts'
import { InMemoryKeyValueStore } from './in-memory-store.ts'
import { LevelKeyValueStore } from './level-store.ts'
import { type LocalStore, type WindowStore } from './types.ts'
import { TimeWindowStore, windowedSerde } from './window-store.ts'

export interface StoreOptions<K, V> {
  name: string
  keySerde: Serde<K>
  valueSerde: Serde<V>
  /** A folder of the store's own, for backends that keep files. */
  dir?: string
}

export interface StoreSupplier {
  /** The backend's name, for logs. */
  readonly name: string
  keyValue<K, V>(options: StoreOptions<K, V>): LocalStore<K, V>
}

/** Memory only: state is rebuilt from the changelog on every start. */
export const inMemoryStores: StoreSupplier = {
  name: 'in-memory',
  keyValue: options => new InMemoryKeyValueStore(options)
}

/** LevelDB files in each store's folder (memory when it has none): a restart restores only what came after its checkpoint. */
export const levelDbStores: StoreSupplier = {
  name: 'leveldb',
  keyValue: options =>
    options.dir === undefined
      ? new InMemoryKeyValueStore(options)
      : new LevelKeyValueStore({ ...options, dir: options.dir })
}

/** A window store over a key-value store of the supplier (window start + key bytes as its keys). */
export function windowStore<K, V>(supplier: StoreSupplier, options: StoreOptions<K, V>): WindowStore<K, V> {
  return new TimeWindowStore(supplier.keyValue({ ...options, keySerde: windowedSerde(options.keySerde) }))
}
