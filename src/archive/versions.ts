// File-system steps on the archive layout (layout.ts) that writers and the compactor
// share: finding or creating an hour's current version, publishing a file with a rename,
// swapping an hour's link, listing hours. Each step is atomic on a local Linux file system.
import { mkdir, open, readdir, readlink, rename, rm, symlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DataError } from '../lib/errors.ts'
import {
  dayDir,
  hourDir,
  isTempName,
  linkTarget,
  parseHourDir,
  parseLinkTarget,
  tempName,
  versionDir,
  versionsDir
} from './layout.ts'

/** Flushes a file or a folder (the folder's entries: a rename in it) to disk. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT'
}

/** The version the hour's link points to, or undefined when the hour has no folder. */
export async function currentVersion(archiveDir: string, hour: number): Promise<number | undefined> {
  const path = hourDir(archiveDir, hour)
  let target: string
  try {
    target = await readlink(path)
  } catch (error) {
    if (isMissing(error)) return undefined
    if ((error as NodeJS.ErrnoException).code === 'EINVAL')
      throw new DataError(`${path} is a plain folder, not a link to a version of the hour (see docs/archive.md)`)
    throw error
  }
  const version = parseLinkTarget(target)
  if (version === undefined) throw new DataError(`${path} links to ${target}, which is not a version of the hour`)
  return version
}

/** The current version of the hour, creating version 0 and its link when the hour is new. */
export async function ensureHourVersion(archiveDir: string, hour: number): Promise<number> {
  const existing = await currentVersion(archiveDir, hour)
  if (existing !== undefined) return existing
  await mkdir(versionDir(archiveDir, hour, 0), { recursive: true })
  await mkdir(dayDir(archiveDir, hour), { recursive: true })
  try {
    await symlink(linkTarget(hour, 0), hourDir(archiveDir, hour))
  } catch (error) {
    // Another writer created the link first: its version is as good as ours.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  return (await currentVersion(archiveDir, hour))!
}

/**
 * Points the hour at `version` with one rename of a new link over the old one: the moment a
 * compaction becomes visible. The link is made in the versions folder, where no reader looks.
 */
export async function switchVersion(archiveDir: string, hour: number, version: number): Promise<void> {
  const temp = join(versionsDir(archiveDir), tempName(`link-${version}`))
  await symlink(linkTarget(hour, version), temp)
  try {
    await mkdir(dayDir(archiveDir, hour), { recursive: true })
    await rename(temp, hourDir(archiveDir, hour))
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  await fsyncPath(dayDir(archiveDir, hour))
}

/** Makes a fully written temp file visible under its final name, durably. */
export async function publishFile(tempPath: string, finalPath: string): Promise<void> {
  await fsyncPath(tempPath)
  await rename(tempPath, finalPath)
  await fsyncPath(dirname(finalPath))
}

/**
 * After a writer published `name` into `version`: if a compaction switched the hour to a newer
 * version meanwhile, the file would stay invisible, so move it to the current version. If it is
 * gone, the compactor moved it already (it sweeps every version it replaces).
 */
export async function settleFile(archiveDir: string, hour: number, version: number, name: string): Promise<void> {
  let from = version
  for (;;) {
    const current = await currentVersion(archiveDir, hour)
    if (current === undefined || current === from) return
    try {
      await rename(join(versionDir(archiveDir, hour, from), name), join(versionDir(archiveDir, hour, current), name))
    } catch (error) {
      if (isMissing(error)) return
      throw error
    }
    from = current
  }
}

/** Every hour folder of the archive, as UTC hour starts, oldest first. */
export async function listHours(archiveDir: string): Promise<number[]> {
  const hours: number[] = []
  for (const year of await entries(archiveDir, /^year=\d{4}$/)) {
    for (const month of await entries(join(archiveDir, year), /^month=\d{2}$/)) {
      for (const day of await entries(join(archiveDir, year, month), /^day=\d{2}$/)) {
        for (const hour of await entries(join(archiveDir, year, month, day), /^hour=\d{2}$/)) {
          const start = parseHourDir(join(archiveDir, year, month, day, hour))
          if (start !== undefined) hours.push(start)
        }
      }
    }
  }
  return hours.sort((a, b) => a - b)
}

async function entries(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(name => pattern.test(name) && !isTempName(name))
  } catch (error) {
    if (isMissing(error)) return []
    throw error
  }
}
