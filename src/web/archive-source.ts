// The archive's hours as the dashboard shows them: how many files each holds and whether the
// batch layer has compacted it (docs/archive.md). Reads the folder; needs the same disk.
import { readdir } from 'node:fs/promises'
import { compactedFileName, HOUR_SECONDS, isDataFile, versionDir } from '../archive/layout.ts'
import { currentVersion, listHours } from '../archive/versions.ts'

/**
 * - `open`: the hour has not ended;
 * - `waiting`: it ended and has no compacted file yet;
 * - `compacted`: one compacted file, nothing else;
 * - `late files`: compacted, and files arrived since (late events): compacted again when due.
 */
export type HourState = 'open' | 'waiting' | 'compacted' | 'late files'
export interface ArchiveHour {
  hour: number
  files: number
  state: HourState
}

export async function readArchive(archiveDir: string, hours: number, now: number): Promise<ArchiveHour[]> {
  const recent = (await listHours(archiveDir)).slice(-hours).reverse()
  return await Promise.all(
    recent.map(async hour => {
      const version = await currentVersion(archiveDir, hour).catch(() => undefined)
      const files =
        version === undefined
          ? []
          : (await readdir(versionDir(archiveDir, hour, version)).catch(() => [])).filter(isDataFile)
      const compacted = files.includes(compactedFileName(hour))
      const state: HourState =
        hour + HOUR_SECONDS > now ? 'open' : !compacted ? 'waiting' : files.length === 1 ? 'compacted' : 'late files'
      return { hour, files: files.length, state }
    })
  )
}
