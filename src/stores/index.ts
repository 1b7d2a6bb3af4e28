// State stores: key-value and window stores with a changelog, restore and checkpoints.
//
// Layers (decorators, as in Kafka Streams):
//   TimeWindowStore            (start, key) → value over a key-value store; key bytes are the
//        │                     window start (epoch ms, 8 bytes BE) + the key's bytes, so
//        │                     closed windows are a prefix of the store
//   ChangeLoggingStore         at flush: one record per dirty key to the ChangelogWriter
//        │                     (last value, or null as a tombstone), then local storage
//   LevelKeyValueStore         whole store in memory, loaded at open; flush writes the dirty
//   or InMemoryKeyValueStore   keys in one LevelDB batch (nothing to write in memory)
//
// Per record, get/put/delete are synchronous Map operations on deserialized values: a put
// costs one key serialization; values are serialized once per dirty key per commit. The
// price is that a store must fit in memory; LevelDB buys a restart without replaying the
// changelog, not capacity.
//
// The runtime owns the commit: at each commit it calls flush() (changelog records go into
// the commit's transaction), commits, and when it closes a store calls closeStore() with the
// offset just past the last changelog record the store holds, which writes the checkpoint.
// On start, recoverStore() keeps local state from a valid checkpoint and replays only the
// records after it, or wipes the store and replays from 0 (no checkpoint means an unclean
// stop, whose local writes may belong to an aborted transaction). The stores never import the Kafka adapter: the runtime implements
// ChangelogWriter and ChangelogReader with it.
export * from './types.ts'
export { TableStore, type TableStoreOptions } from './table-store.ts'
export { InMemoryKeyValueStore } from './in-memory-store.ts'
export { LevelKeyValueStore, type LevelStoreOptions } from './level-store.ts'
export { ChangeLoggingStore, type ChangeLoggingOptions } from './change-logging-store.ts'
export { TimeWindowStore, windowedSerde, windowPrefix, type Windowed } from './window-store.ts'
export { InMemoryChangelog } from './in-memory-changelog.ts'
export { readCheckpoint, writeCheckpoint, removeCheckpoint } from './checkpoint.ts'
export { restoreStore, recoverStore, closeStore, type RestoreOptions, type RestoreRangeOptions, type RestoreResult, type RecoverResult } from './restore.ts'
export { createKeyValueStore, createWindowStore, type StoreOptions } from './factory.ts'
