// A key-value store on LevelDB with the whole store held in memory. open() loads every
// entry, reads and writes touch only memory, and flush() writes the keys changed since the
// last flush in one LevelDB batch. LevelDB gives durability and a restart without replaying
// the changelog, not capacity: a store must fit in memory (window stores hold only open
// windows). An LRU cache over LevelDB would lift that limit but make a miss asynchronous,
// which the per-record path cannot afford.
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CellstreamError } from '../lib/errors.ts'
import { type ChangeRecord } from './types.ts'
import { TableStore, type TableStoreOptions } from './table-store.ts'

export interface LevelStoreOptions<K, V> extends TableStoreOptions<K, V> {
  /** The store's own directory: LevelDB files go to `db/` in it, the checkpoint beside them. */
  dir: string
}

type BatchOperation = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer }

const LOAD_BATCH = 4096

export class LevelKeyValueStore<K, V> extends TableStore<K, V> {
  readonly dir: string
  private db: ClassicLevel<Buffer, Buffer> | undefined
  private lastWrite: BatchOperation | undefined

  constructor(options: LevelStoreOptions<K, V>) {
    super(options)
    this.dir = options.dir
  }

  async persist(records: readonly ChangeRecord[]): Promise<void> {
    if (records.length === 0) return
    const db = this.database()
    const operations = records.map((r): BatchOperation =>
      r.value === null ? { type: 'del', key: r.key } : { type: 'put', key: r.key, value: r.value }
    )
    await db.batch(operations)
    this.lastWrite = operations.at(-1)
  }

  protected async openStorage(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    // Every entry also lives in memory and LevelDB is read only at open, so its block cache
    // buys nothing; a small write buffer keeps many stores (one per partition) cheap.
    const db = new ClassicLevel<Buffer, Buffer>(join(this.dir, 'db'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      cacheSize: 0,
      writeBufferSize: 512 << 10
    })
    await db.open()
    const iterator = db.iterator()
    try {
      for (
        let entries = await iterator.nextv(LOAD_BATCH);
        entries.length > 0;
        entries = await iterator.nextv(LOAD_BATCH)
      ) {
        for (const [key, value] of entries) this.load(key.toString('latin1'), key, value)
      }
    } catch (error) {
      await iterator.close()
      await db.close()
      throw error
    }
    await iterator.close()
    this.db = db
  }

  protected async closeStorage(): Promise<void> {
    const db = this.database()
    this.db = undefined
    // Batches go to LevelDB's log without fsync. Writing the last one again (a no-op for the
    // data) with sync forces the whole log to disk, so a checkpoint written after close
    // never claims state that a power loss could take back.
    const lastWrite = this.lastWrite
    this.lastWrite = undefined
    try {
      if (lastWrite !== undefined) await db.batch([lastWrite], { sync: true })
    } finally {
      // Even when the sync fails: the lock must go, or the next open of this folder fails.
      await db.close()
    }
  }

  protected async wipeStorage(reopen: boolean): Promise<void> {
    if (this.db !== undefined) {
      await this.db.close()
      this.db = undefined
    }
    this.lastWrite = undefined
    await rm(this.dir, { recursive: true, force: true })
    if (reopen) await this.openStorage()
  }

  private database(): ClassicLevel<Buffer, Buffer> {
    if (this.db === undefined) throw new CellstreamError('CS_STORE_CLOSED', `state store ${this.name} is not open`)
    return this.db
  }
}
