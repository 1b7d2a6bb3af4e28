// Tidies an hour's versions (archive/layout.ts) so that only the current one remains. It runs
// before and after every compaction, and repairs whatever a crash left at any step:
// - a version being built, or built but never linked: deleted (the link still shows the old files);
// - an older version: files the current version replaced (its manifest lists them) are deleted;
//   any other data file arrived after the compactor listed the hour, so it moves into the
//   current version; a writer's temp file stays until it is old enough to be abandoned.
import { readFile, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import {
  isDataFile,
  isTempName,
  manifestPath,
  parseVersionEntry,
  versionDir,
  versionsDir,
  type VersionEntry
} from '../archive/layout.ts'
import { currentVersion } from '../archive/versions.ts'
import { FS_PARALLELISM, forEachParallel } from './parallel.ts'

/** A writer's temp file this old belongs to a writer that died. */
export const ABANDONED_TEMP_MS = 3600_000

export interface SweepResult {
  removedVersions: number
  movedFiles: number
}

export async function sweepHour(archiveDir: string, hour: number): Promise<SweepResult> {
  const result: SweepResult = { removedVersions: 0, movedFiles: 0 }
  const current = await currentVersion(archiveDir, hour)
  // Without a link a writer may be creating the hour right now: leave its version alone.
  if (current === undefined) return result
  await removeAbandonedTemps(archiveDir)
  const entries = await hourEntries(archiveDir, hour)
  for (const { name, entry } of entries) {
    if (entry.kind === 'building' || entry.version > current) {
      await rm(join(versionsDir(archiveDir), name), { recursive: true, force: true })
    }
  }
  const replaced = await readManifest(archiveDir, hour, current)
  for (const { entry } of entries) {
    if (entry.kind !== 'version' || entry.version >= current) continue
    result.movedFiles += await drainVersion(archiveDir, hour, entry.version, current, replaced)
    if (
      await rmdir(versionDir(archiveDir, hour, entry.version)).then(
        () => true,
        () => false
      )
    ) {
      await rm(manifestPath(archiveDir, hour, entry.version), { force: true })
      result.removedVersions++
    }
  }
  return result
}

// The files of a version are independent of each other, so they go a few at a time: one by one,
// deleting the 21,600 files of an hour of the stream's commits took several seconds.
async function drainVersion(
  archiveDir: string,
  hour: number,
  version: number,
  current: number,
  replaced: ReadonlySet<string>
): Promise<number> {
  const from = versionDir(archiveDir, hour, version)
  const to = versionDir(archiveDir, hour, current)
  let moved = 0
  await forEachParallel(await readdir(from).catch(() => []), FS_PARALLELISM, async name => {
    const path = join(from, name)
    if (isDataFile(name)) {
      if (replaced.has(name)) {
        await unlink(path).catch(ignoreMissing(undefined))
      } else {
        await rename(path, join(to, name)).catch(ignoreMissing(undefined))
        moved++
      }
    } else if (isTempName(name)) {
      const age =
        Date.now() -
        (await stat(path).then(
          s => s.mtimeMs,
          () => Date.now()
        ))
      if (age > ABANDONED_TEMP_MS) await rm(path, { force: true })
    }
  })
  return moved
}

/**
 * Temp files in the versions folder (a manifest or a link being written) belong to the
 * compactor; the sweep runs under its lock, so any found now is a killed run's.
 */
async function removeAbandonedTemps(archiveDir: string): Promise<void> {
  const dir = versionsDir(archiveDir)
  for (const name of await readdir(dir).catch(() => [])) {
    if (isTempName(name)) await rm(join(dir, name), { force: true })
  }
}

async function hourEntries(archiveDir: string, hour: number): Promise<Array<{ name: string; entry: VersionEntry }>> {
  const names = await readdir(versionsDir(archiveDir)).catch(() => [])
  return names
    .map(name => ({ name, entry: parseVersionEntry(name) }))
    .filter((e): e is { name: string; entry: VersionEntry } => e.entry !== undefined && e.entry.hour === hour)
}

/** The names of the files a version replaced; empty for a version no compaction made. */
export async function readManifest(archiveDir: string, hour: number, version: number): Promise<Set<string>> {
  try {
    const text = await readFile(manifestPath(archiveDir, hour, version), 'utf8')
    return new Set((JSON.parse(text) as { inputs: string[] }).inputs)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Set()
    throw error
  }
}

/** For a promise's catch: a file or folder that is gone gives `fallback`; any other error stays. */
export function ignoreMissing<T>(fallback: T): (error: unknown) => T {
  return error => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback
    throw error
  }
}
