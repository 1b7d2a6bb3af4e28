// The archive's hours as the dashboard shows them: how many files each holds and whether the
// batch layer has compacted it (docs/archive.md). Reads the folder (it needs the same disk) or
// the hours' manifests and listings in object storage.
import { readdir } from 'node:fs/promises'
import { compactedFileName, HOUR_SECONDS, isDataFile, versionDir } from '../archive/layout.ts'
import { currentVersion, listHours } from '../archive/versions.ts'
import type { S3Archive } from '../archive/s3-archive.ts'

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

export async function readArchive(archiveDir: string | S3Archive, hours: number, now: number): Promise<ArchiveHour[]> {
  if (typeof archiveDir !== 'string') return await readS3Archive(archiveDir, hours, now)
  const recent = (await listHours(archiveDir)).slice(-hours).reverse()
  return await Promise.all(
    recent.map(async hour => {
      const version = await currentVersion(archiveDir, hour).catch(() => undefined)
      const files =
        version === undefined
          ? []
          : (await readdir(versionDir(archiveDir, hour, version)).catch(() => [])).filter(isDataFile)
      const compacted = files.includes(compactedFileName(hour))
      return { hour, files: files.length, state: hourState(hour, now, compacted, files.length) }
    })
  )
}

async function readS3Archive(archive: S3Archive, hours: number, now: number): Promise<ArchiveHour[]> {
  const recent = (await archive.listHours()).slice(-hours).reverse()
  return await Promise.all(
    recent.map(async hour => {
      const { files, manifest } = await archive.view(hour)
      const compacted = manifest !== undefined && files.includes(manifest.compacted)
      return { hour, files: files.length, state: hourState(hour, now, compacted, files.length) }
    })
  )
}

function hourState(hour: number, now: number, compacted: boolean, files: number): HourState {
  return hour + HOUR_SECONDS > now ? 'open' : !compacted ? 'waiting' : files === 1 ? 'compacted' : 'late files'
}
