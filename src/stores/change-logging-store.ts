// Sends every flushed change to the store's changelog before writing it locally, so the
// changelog (compacted: the last record per key wins) can rebuild the store anywhere. The
// wrapped store tracks the dirty keys; at flush this decorator takes them once and hands
// the same records to the changelog and to local storage: one record per dirty key, its
// last value or a tombstone, nothing for keys left alone.
import { type ChangeRecord, type ChangelogWriter, type KeyValueStore, type LocalStore } from './types.ts'

export interface ChangeLoggingOptions {
  /** Called after each flush that sent records, with how many (for metrics). */
  onFlush?: (store: string, records: number) => void
}

export class ChangeLoggingStore<K, V> implements KeyValueStore<K, V> {
  readonly inner: LocalStore<K, V>
  private readonly changelog: ChangelogWriter
  private readonly onFlush: ((store: string, records: number) => void) | undefined

  constructor (inner: LocalStore<K, V>, changelog: ChangelogWriter, options: ChangeLoggingOptions = {}) {
    this.inner = inner
    this.changelog = changelog
    this.onFlush = options.onFlush
  }

  get name (): string { return this.inner.name }
  get dir (): string | undefined { return this.inner.dir }
  get isOpen (): boolean { return this.inner.isOpen }
  get size (): number { return this.inner.size }

  get (key: K): V | undefined { return this.inner.get(key) }
  has (key: K): boolean { return this.inner.has(key) }
  put (key: K, value: V): void { this.inner.put(key, value) }
  delete (key: K): boolean { return this.inner.delete(key) }
  entries (): IterableIterator<[K, V]> { return this.inner.entries() }
  keyRange (from?: Buffer, to?: Buffer): IterableIterator<[K, V]> { return this.inner.keyRange(from, to) }

  open (): Promise<void> { return this.inner.open() }
  close (): Promise<void> { return this.inner.close() }
  wipe (): Promise<void> { return this.inner.wipe() }
  // Restored records come from the changelog: logging them again would only duplicate them.
  restore (records: readonly ChangeRecord[]): Promise<void> { return this.inner.restore(records) }

  async flush (): Promise<void> {
    const changes = this.inner.takeChanges()
    if (changes.length === 0) return
    try {
      await this.changelog.send(changes)
      await this.inner.persist(changes)
    } catch (error) {
      // Resending a record is harmless (the last value wins); losing one is not.
      this.inner.returnChanges(changes)
      throw error
    }
    this.onFlush?.(this.name, changes.length)
  }
}
