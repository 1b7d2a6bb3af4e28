// Compacts one hour of an archive in object storage (archive/s3-archive.ts, docs/archive.md,
// "Object storage"): the same merge, tables and guarantees as compact-hour.ts, with a manifest
// PUT where the local archive renames a link.
//  1. sweep what earlier runs left behind;
//  2. download the hour's files (its compacted file and the writer files it did not replace),
//     one by one to a local folder: never an hour in memory;
//  3. merge them, aggregate, and replace the hour's rows in PostgreSQL;
//  4. upload the merged file under a version no manifest names yet, then switch: PUT the
//     manifest naming it and the writer files it replaces;
//  5. sweep again: the replaced files and the old version go.
// A run killed before step 4's PUT leaves the hour as readers saw it, plus an upload no manifest
// names (swept once abandoned); after it, the next run only tidies up.
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compactedFileName, hourLabel, tempName } from '../archive/layout.ts'
import type { HourView, S3Archive } from '../archive/s3-archive.ts'
import { publishFile } from '../archive/versions.ts'
import { type Db } from '../db/pool.ts'
import { DataError } from '../lib/errors.ts'
import { aggregateAndStore, hourClock, type HourResult } from './compact-hour.ts'
import { type Engine } from './duckdb-engine.ts'
import { checkCopied, fileStats, mergeFiles } from './merge.ts'
import { forEachParallel } from './parallel.ts'

/**
 * An upload under a version no manifest names is a killed compactor's once this old: a
 * compactor's upload takes seconds to minutes, and readers never see such an object anyway.
 */
export const ABANDONED_UPLOAD_MS = 3600_000
const PARALLEL_DOWNLOADS = 8
/** An hour's downloads and merged file, in the work folder. */
const HOUR_DIR_PREFIX = 'hour-'

export interface S3CompactContext {
  archive: S3Archive
  db: Db
  engine: Engine
  /** A local folder of this compactor's own, for the downloaded and merged files. */
  workDir: string
}

export async function compactS3Hour(context: S3CompactContext, hour: number): Promise<HourResult> {
  const { lap, result } = hourClock(hour)
  const { archive } = context
  const view = await sweepS3Hour(archive, hour)
  lap('sweep')
  if (view.files.length === 0) return result('empty')

  const dir = await mkdtemp(join(context.workDir, HOUR_DIR_PREFIX))
  try {
    const compacted = compactedFileName(hour)
    const local = new Map(view.files.map((name, i) => [name, join(dir, `${i}-${name.replaceAll('/', '_')}`)]))
    await forEachParallel(view.files, PARALLEL_DOWNLOADS, name => archive.download(hour, name, local.get(name)!))
    if (view.files.length === 1 && view.files[0] === view.manifest?.compacted) {
      const rows = await aggregateAndStore(context, hour, local.get(view.files[0]!)!, lap)
      return result('unchanged', { rowsRead: rows, rowsWritten: rows })
    }
    const stats = await fileStats(context.engine, [...local.values()])
    lap('plan')
    if (stats.every(f => f.rows === 0)) return result('empty')
    const target = join(dir, compacted)
    const temp = join(dir, tempName(compacted))
    const merged = await mergeFiles(context.engine, stats, temp, dir)
    await publishFile(temp, target)
    lap('merge')
    await aggregateAndStore(context, hour, target, lap, () => checkCopied(context.engine, target, merged.copied))
    const version = view.lastVersion + 1
    const name = `v=${version}/${compacted}`
    await archive.putFile(hour, name, target)
    const parts = view.files.filter(file => file !== view.manifest?.compacted)
    await archive.publish(hour, { version, compacted: name, replaced: parts })
    await sweepS3Hour(archive, hour)
    lap('switch')
    return result('compacted', {
      rowsRead: merged.rowsRead,
      rowsWritten: merged.rowsWritten,
      duplicates: merged.rowsRead - merged.rowsWritten,
      filesMerged: view.files.length,
      filesCopied: merged.copied.length
    })
  } catch (error) {
    throw error instanceof DataError
      ? new DataError(`hour ${hourLabel(hour)} left as it was: ${error.message}`, error)
      : error
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The compactor's local folder for an archive in object storage: its lock, scratch files and downloads. */
export function s3WorkDir(url: string): string {
  return join(tmpdir(), `cellstream-compactor-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`)
}

/** Removes the hour folders a killed run left in the work folder; call it holding the lock. */
export async function clearWorkDir(workDir: string): Promise<void> {
  const names = await readdir(workDir).catch(() => [])
  for (const name of names)
    if (name.startsWith(HOUR_DIR_PREFIX)) await rm(join(workDir, name), { recursive: true, force: true })
}

/**
 * Deletes the writer files the manifest replaced and the earlier versions' files; uploads
 * under a version no manifest names yet are deleted once abandoned. When replaced files were
 * deleted, the manifest is written again without them, so that it stays small. Returns the
 * hour as it is afterwards.
 */
export async function sweepS3Hour(archive: S3Archive, hour: number, now = Date.now()): Promise<HourView> {
  const view = await archive.view(hour)
  const current = view.manifest?.version ?? 0
  const strays = view.strays.filter(s => s.version < current || now - s.lastModified > ABANDONED_UPLOAD_MS)
  await archive.bucket.delete([...view.replaced, ...strays].map(o => o.key))
  if (view.manifest !== undefined && view.manifest.replaced.length > 0) {
    // A writer replaying a replaced file after this shows it again: a duplicate the next
    // compaction of the hour drops (the hour is due again), as with any replay.
    await archive.publish(hour, { ...view.manifest, replaced: [] })
  }
  return { ...view, replaced: [], strays: view.strays.filter(s => !strays.includes(s)) }
}
