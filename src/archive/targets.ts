// Where ParquetArchive publishes a finished file: into the hour's current version on a local
// file system (a rename, versions.ts), or into an S3 hour (an upload, s3-archive.ts). DuckDB
// writes every file to a local path first in both cases.
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tempName, versionDir } from './layout.ts'
import type { S3Archive } from './s3-archive.ts'
import { currentVersion, ensureHourVersion, publishFile, settleFile } from './versions.ts'

export interface ArchiveTarget {
  /** Writes the file with `write(path)` and publishes it as `name` in the hour; returns where it is. */
  publish(hour: number, name: string, write: (path: string) => Promise<void>): Promise<string>
}

// A writer that loses the race with a compaction (the version it resolved was swapped and
// removed) resolves the hour again; more than a few losses in a row means something else.
const MAX_ATTEMPTS = 5

export class LocalTarget implements ArchiveTarget {
  readonly archiveDir: string

  constructor(archiveDir: string) {
    this.archiveDir = archiveDir
  }

  async publish(hour: number, name: string, write: (path: string) => Promise<void>): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const version = await ensureHourVersion(this.archiveDir, hour)
      const dir = versionDir(this.archiveDir, hour, version)
      const temp = join(dir, tempName(name))
      try {
        await write(temp)
        await publishFile(temp, join(dir, name))
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && (await this.#versionChanged(hour, version))) continue
        throw error
      }
      await settleFile(this.archiveDir, hour, version, name)
      return join(dir, name)
    }
  }

  async #versionChanged(hour: number, version: number): Promise<boolean> {
    return (await currentVersion(this.archiveDir, hour).catch(() => version)) !== version
  }
}

/**
 * Uploads each file from a local folder of this process's own. A file is never visible before
 * its upload completes, and a replay uploads the same name again; a process killed mid-upload
 * leaves at most a local temp file (cleared when the next one starts) and parts of a multipart
 * upload that nothing lists (docs/archive.md, "Object storage").
 */
export class S3Target implements ArchiveTarget {
  readonly archive: S3Archive
  readonly #tempDir: string
  #ready: Promise<unknown> | undefined

  constructor(archive: S3Archive, tempDir: string) {
    this.archive = archive
    this.#tempDir = tempDir
  }

  async publish(hour: number, name: string, write: (path: string) => Promise<void>): Promise<string> {
    // A killed process's temp files go when the next one first writes; a failure is tried again.
    this.#ready ??= rm(this.#tempDir, { recursive: true, force: true }).then(() =>
      mkdir(this.#tempDir, { recursive: true })
    )
    await this.#ready.catch((error: unknown) => {
      this.#ready = undefined
      throw error
    })
    const temp = join(this.#tempDir, tempName(name))
    try {
      await write(temp)
      await this.archive.putFile(hour, name, temp)
    } finally {
      await rm(temp, { force: true })
    }
    return this.archive.describe(hour, name)
  }
}
