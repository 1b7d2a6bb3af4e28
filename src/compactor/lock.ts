// One compactor at a time per archive: two would race on the same hour's versions. The lock is
// a file holding the owner's pid, so a compactor killed with -9 does not block the next run.
import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CellstreamError } from '../lib/errors.ts'
import { isAlive } from '../lib/processes.ts'

export const LOCK_FILE = '.compactor.lock'

export type Release = () => Promise<void>

export async function lockArchive(archiveDir: string): Promise<Release> {
  const path = join(archiveDir, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => rm(path, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new CellstreamError(
        'CS_LOCKED',
        `another compactor (pid ${owner}) is working on ${archiveDir}; remove ${path} if that process is not a compactor`
      )
    }
    // The owner died (or the file was half written): the lock is stale.
    await rm(path, { force: true })
  }
  throw new CellstreamError('CS_LOCKED', `could not lock ${path}`)
}
