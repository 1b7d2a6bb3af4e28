// Restore replays a store's changelog partition into its local state, in batches (one
// LevelDB batch each), from the checkpoint if there is a valid one, else from offset 0 into
// a wiped store. The runtime calls recoverStore when a task starts or a partition moves
// here, before processing any record, and closeStore on a clean shutdown.
import { readCheckpoint, removeCheckpoint, writeCheckpoint } from './checkpoint.ts'
import { type ChangeRecord, type ChangelogReader, type RestoreProgress, type StateStore } from './types.ts'

export interface RestoreOptions {
  /** Records applied per batch (and between progress reports). */
  batchSize?: number
  onProgress?: (progress: RestoreProgress) => void
  /** Stops between batches, for a partition that moves away while restoring. */
  signal?: AbortSignal
}

export interface RestoreRangeOptions extends RestoreOptions {
  fromOffset?: bigint
  /** Defaults to the reader's end offset when the restore starts. */
  endOffset?: bigint
}

export interface RestoreResult {
  records: number
  fromOffset: bigint
  endOffset: bigint
}

export interface RecoverResult extends RestoreResult {
  /** Whether local state was kept (a valid checkpoint), rather than wiped and rebuilt from 0. */
  fromCheckpoint: boolean
}

const DEFAULT_BATCH = 10_000

/** Applies the changelog records in `[fromOffset, endOffset)` to an open store. */
export async function restoreStore(
  store: StateStore,
  reader: ChangelogReader,
  options: RestoreRangeOptions = {}
): Promise<RestoreResult> {
  const { batchSize = DEFAULT_BATCH, onProgress, signal } = options
  const fromOffset = options.fromOffset ?? 0n
  const endOffset = options.endOffset ?? (await reader.endOffset())
  let records = 0
  let position = fromOffset
  let batch: ChangeRecord[] = []
  const report = (): void => onProgress?.({ store: store.name, records, fromOffset, position, endOffset })
  const apply = async (): Promise<void> => {
    await store.restore(batch)
    records += batch.length
    batch = []
    report()
    signal?.throwIfAborted()
  }

  signal?.throwIfAborted()
  if (fromOffset < endOffset) {
    for await (const entry of reader.read(fromOffset, endOffset)) {
      if (entry.offset >= endOffset) break
      batch.push({ key: entry.key, value: entry.value })
      position = entry.offset + 1n
      if (batch.length >= batchSize) await apply()
    }
  }
  if (batch.length > 0) await apply()
  // What lies between the last record and the end are transaction markers or compacted gaps.
  position = endOffset
  report()
  return { records, fromOffset, endOffset }
}

/**
 * Opens a store and brings it up to the end of its changelog: from the checkpoint when one
 * is valid (not beyond the changelog's end, which would mean the topic was recreated),
 * otherwise wiped and restored from 0. Removes the checkpoint before returning, since the
 * local files stop matching it at the first flush.
 */
export async function recoverStore(
  store: StateStore,
  reader: ChangelogReader,
  options: RestoreOptions = {}
): Promise<RecoverResult> {
  const endOffset = await reader.endOffset()
  const checkpoint = store.dir === undefined ? undefined : await readCheckpoint(store.dir)
  const fromCheckpoint = checkpoint !== undefined && checkpoint <= endOffset
  if (!fromCheckpoint) await store.wipe()
  await store.open()
  const result = await restoreStore(store, reader, {
    ...options,
    fromOffset: fromCheckpoint ? checkpoint : 0n,
    endOffset
  })
  if (store.dir !== undefined) await removeCheckpoint(store.dir)
  return { ...result, fromCheckpoint }
}

/**
 * Closes a store after the runtime's last commit, recording that its local files hold every
 * changelog record below `completeUpTo` (just past the last record the store itself wrote or
 * restored: never an end offset read later, which may cover records of another instance).
 * Without an offset (an aborted transaction, a crash path) no checkpoint is written.
 */
export async function closeStore(store: StateStore, completeUpTo?: bigint): Promise<void> {
  await store.close()
  if (completeUpTo !== undefined && store.dir !== undefined) await writeCheckpoint(store.dir, completeUpTo)
}
