// A local store whose changes travel through a changelog partition, committed the way the
// runtime commits: the store takes no part in writing the changelog itself, it hands its
// changes over and hears what became of them.
//
//   takeChanges()    at a commit: one record per key changed since the last one (its last
//                    value, or null as a tombstone), for the commit's transaction;
//   committed(...)   once the transaction committed: the same changes go to local storage,
//                    and the store notes where its own records ended in the changelog;
//   close()          a clean stop or a rebalance: local files stay, with a checkpoint that
//                    says every changelog record below `completeUpTo` is in them;
//   release()        a failed restore: files stay, without a checkpoint.
//
// After a failed commit the runtime closes the store and rebuilds it: changes taken but not
// committed are in no file and in no changelog, so a replay makes them again.
// `completeUpTo` starts at the restore's end and then follows this store's own committed
// writes; never the changelog's end offset read later, which after a rebalance may cover
// records another instance wrote (a checkpoint claiming them would skip them on return).
import { closeStore, recoverStore, type RecoverResult, type RestoreOptions } from './restore.ts'
import { type ChangeRecord, type ChangelogReader, type KeyValueStore, type LocalStore } from './types.ts'

export interface ChangelogPartition {
  topic: string
  partition: number
}

export class LoggedStore<K, V> implements KeyValueStore<K, V> {
  readonly local: LocalStore<K, V>
  readonly changelog: ChangelogPartition
  /** Every record of the changelog partition below this offset is in the local files. */
  completeUpTo = 0n

  constructor(local: LocalStore<K, V>, changelog: ChangelogPartition) {
    this.local = local
    this.changelog = changelog
  }

  get name(): string {
    return this.local.name
  }
  get dir(): string | undefined {
    return this.local.dir
  }
  get isOpen(): boolean {
    return this.local.isOpen
  }
  get size(): number {
    return this.local.size
  }

  get(key: K): V | undefined {
    return this.local.get(key)
  }
  has(key: K): boolean {
    return this.local.has(key)
  }
  put(key: K, value: V): void {
    this.local.put(key, value)
  }
  delete(key: K): boolean {
    return this.local.delete(key)
  }
  entries(): IterableIterator<[K, V]> {
    return this.local.entries()
  }
  keyRange(from?: Buffer, to?: Buffer): IterableIterator<[K, V]> {
    return this.local.keyRange(from, to)
  }
  open(): Promise<void> {
    return this.local.open()
  }
  wipe(): Promise<void> {
    return this.local.wipe()
  }
  restore(records: readonly ChangeRecord[]): Promise<void> {
    return this.local.restore(records)
  }

  /** Changes reach local storage only through a commit (see the header). */
  async flush(): Promise<void> {
    throw new Error(`store ${this.name} is logged: its changes are written by the commit that carries them`)
  }

  /** Opens the store and brings it up to the end of its changelog partition (from its checkpoint when valid). */
  async recover(reader: ChangelogReader, options: RestoreOptions = {}): Promise<RecoverResult> {
    const result = await recoverStore(this.local, reader, options)
    this.completeUpTo = result.endOffset
    return result
  }

  takeChanges(): ChangeRecord[] {
    return this.local.takeChanges()
  }

  /**
   * The commit that carried `changes` succeeded: writes them locally. `lastOffset` is the
   * changelog offset of the last of them, from the produce response; without it the earlier
   * bound still holds (a restore from it replays this store's own records, to the same state).
   */
  async committed(changes: readonly ChangeRecord[], lastOffset: bigint | undefined): Promise<void> {
    await this.local.persist(changes)
    if (lastOffset !== undefined) this.completeUpTo = lastOffset + 1n
  }

  close(): Promise<void> {
    return closeStore(this.local, this.completeUpTo)
  }

  release(): Promise<void> {
    return this.local.close()
  }
}
