// State stores: key-value and window stores, logged to a changelog, restored, checkpointed.
//
// Layers (decorators, as in Kafka Streams):
//   TimeWindowStore          (start, key) → value over a key-value store; key bytes are the
//        │                   window start (epoch ms, 8 bytes BE) + the key's bytes, so
//        │                   closed windows are a prefix of the store
//   LoggedStore              the commit protocol: at a commit it hands over its changes as
//        │                   changelog records (takeChanges), and once the transaction
//        │                   committed writes them locally (committed) and notes how far its
//        │                   own records reach in the changelog; close() writes the checkpoint
//   LevelKeyValueStore       whole store in memory, loaded at open; writes go to LevelDB in
//   or InMemoryKeyValueStore one batch per commit (nothing to write in memory)
//
// A StoreSupplier (supplier.ts) makes the bottom layer: LevelDB or memory today, another
// backend by adding a supplier. Per record, get/put/delete are synchronous Map operations on
// deserialized values: a put costs one key serialization; values are serialized once per
// changed key per commit. The price is that a store must fit in memory; LevelDB buys a
// restart without replaying the changelog, not capacity.
//
// The runtime owns the commit and the changelog topic: it sends the records a LoggedStore
// hands over in the commit's transaction, and reads changelog partitions back for restore
// through a ChangelogReader. On start, recover() keeps local state from a valid checkpoint
// and replays only the records after it, or wipes the store and replays from 0 (no
// checkpoint means an unclean stop, whose local writes may belong to an aborted
// transaction). The stores never import the Kafka adapter.
export * from './types.ts'
export { TableStore, type TableStoreOptions } from './table-store.ts'
export { InMemoryKeyValueStore } from './in-memory-store.ts'
export { LevelKeyValueStore, type LevelStoreOptions } from './level-store.ts'
export { LoggedStore, type ChangelogPartition } from './logged-store.ts'
export { TimeWindowStore, windowedSerde, windowPrefix, type Windowed } from './window-store.ts'
export { InMemoryChangelog } from './in-memory-changelog.ts'
export { readCheckpoint, writeCheckpoint, removeCheckpoint } from './checkpoint.ts'
export {
  restoreStore,
  recoverStore,
  closeStore,
  type RestoreOptions,
  type RestoreRangeOptions,
  type RestoreResult,
  type RecoverResult
} from './restore.ts'
export { inMemoryStores, levelDbStores, windowStore, type StoreOptions, type StoreSupplier } from './supplier.ts'
