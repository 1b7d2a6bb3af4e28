// The state store contracts. Reads and writes are synchronous (they run once per record);
// only the lifecycle (open, flush at commit, restore, close) touches disk or network.

/** One change as the changelog and LevelDB hold it: the store key bytes, value bytes or null (a tombstone). */
export interface ChangeRecord {
  key: Buffer
  value: Buffer | null
}

/** A change read back from a changelog partition, with its offset there. */
export interface ChangelogEntry extends ChangeRecord {
  offset: bigint
}

/** One partition of a changelog topic, as read back during restore. */
export interface ChangelogReader {
  /** The offset the next record written will get (the committed end under read_committed). */
  endOffset(): Promise<bigint>
  /**
   * Every record with `fromOffset <= offset < endOffset`, in offset order, then the end.
   * Offsets may have gaps (compaction, transaction markers).
   */
  read(fromOffset: bigint, endOffset: bigint): AsyncIterable<ChangelogEntry>
}

/** What every store has, whatever its keys: the lifecycle the runtime drives. */
export interface StateStore {
  readonly name: string
  /** The store's own directory (LevelDB files and checkpoint), or undefined when it lives in memory only. */
  readonly dir: string | undefined
  readonly isOpen: boolean
  /** Loads local state; a store is usable only once open. */
  open(): Promise<void>
  /** Writes everything changed since the last flush (called by the runtime at each commit). */
  flush(): Promise<void>
  /**
   * Releases the store. Changes not flushed are dropped: they belong to a transaction that
   * was not committed. A clean shutdown flushes through a commit first.
   */
  close(): Promise<void>
  /** Removes all local state (memory and disk); the store stays open if it was. */
  wipe(): Promise<void>
  /** Applies changelog records to local state without logging them again. */
  restore(records: readonly ChangeRecord[]): Promise<void>
}

export interface KeyValueStore<K, V> extends StateStore {
  readonly size: number
  get(key: K): V | undefined
  has(key: K): boolean
  /** Stores `value` by reference: put it again after changing it, so that the change is flushed. */
  put(key: K, value: V): void
  /** Returns whether the key was there. */
  delete(key: K): boolean
  /** All entries, ascending by serialized key bytes. */
  entries(): IterableIterator<[K, V]>
  /**
   * Entries whose serialized key is in `[from, to)`, ascending by key bytes; a bound may be a
   * key prefix (composite keys). Entries deleted during the iteration are skipped.
   */
  keyRange(from?: Buffer, to?: Buffer): IterableIterator<[K, V]>
}

/**
 * A key-value store that caches locally and writes at flush: what a LoggedStore wraps.
 * `takeChanges` and `persist` split `flush` in two so that the changelog gets exactly the
 * records written locally.
 */
export interface LocalStore<K, V> extends KeyValueStore<K, V> {
  /** The changes since the last flush (last value or tombstone per dirty key); the keys become clean. */
  takeChanges(): ChangeRecord[]
  /** Marks the keys of changes that could not be written dirty again, so the next flush retries them. */
  returnChanges(records: readonly ChangeRecord[]): void
  /** Writes taken changes to local storage only. */
  persist(records: readonly ChangeRecord[]): Promise<void>
}

export interface WindowEntry<K, V> {
  /** Window start, epoch milliseconds. */
  start: number
  key: K
  value: V
}

/** Values per (window start, key), iterated in window-start order so closed windows come first. */
export interface WindowStore<K, V> extends StateStore {
  readonly size: number
  get(start: number, key: K): V | undefined
  put(start: number, key: K, value: V): void
  delete(start: number, key: K): boolean
  /** All entries, ascending by window start, then by key bytes. */
  entries(): IterableIterator<WindowEntry<K, V>>
  /** Entries of windows starting before `endExclusive`, in the same order; safe to delete while iterating. */
  windowsUpTo(endExclusive: number): IterableIterator<WindowEntry<K, V>>
  /** Removes the windows starting before `endExclusive` and returns them (their tombstones go out at the next flush). */
  takeWindowsUpTo(endExclusive: number): WindowEntry<K, V>[]
}

/** Restore progress, for metrics and logs. Offsets, not records, measure the distance left: compaction leaves gaps. */
export interface RestoreProgress {
  store: string
  /** Records applied so far. */
  records: number
  fromOffset: bigint
  /** Offset after the last record applied. */
  position: bigint
  endOffset: bigint
}
