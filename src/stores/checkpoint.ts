// The checkpoint file says up to which changelog offset a store's local files are known to
// be complete: restore resumes there instead of at 0. It is written only after a clean close
// and removed as soon as the store is open again, because from then on LevelDB takes writes
// of transactions that may still abort. A store found without a checkpoint may hold such
// writes, so it is wiped and restored from offset 0 (what Kafka Streams does under
// exactly-once). An unreadable checkpoint counts as none: a full restore, never wrong state.
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

const FILE = 'checkpoint'
const VERSION = 1

/** The next changelog offset to restore from, or undefined when there is no valid checkpoint. */
export async function readCheckpoint(dir: string): Promise<bigint | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, FILE), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; offset?: unknown }
    if (parsed.version !== VERSION || typeof parsed.offset !== 'string' || !/^\d+$/.test(parsed.offset))
      return undefined
    return BigInt(parsed.offset)
  } catch {
    return undefined
  }
}

/** Records that local state holds every changelog record below `offset`; atomic and synced. */
export async function writeCheckpoint(dir: string, offset: bigint): Promise<void> {
  if (offset < 0n) throw new RangeError(`a checkpoint offset cannot be negative, got ${offset}`)
  const path = join(dir, FILE)
  const partial = `${path}.partial`
  const file = await open(partial, 'w')
  try {
    await file.writeFile(`${JSON.stringify({ version: VERSION, offset: offset.toString() })}\n`)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(partial, path)
}

export async function removeCheckpoint(dir: string): Promise<void> {
  await rm(join(dir, FILE), { force: true })
}
