// Compacts one hour of the archive (docs/archive.md, "Compaction"):
//  1. sweep what an earlier run or a crash left behind;
//  2. merge the current version's files into one sorted file, each record once, inside a new
//     version folder that no link points to yet; pieces compacted ahead (ahead.ts) stand for
//     the files they hold, when those are all still there, unchanged;
//  3. aggregate it and replace the hour's rows in PostgreSQL;
//  4. record which files it replaces, then switch the hour's link to the new version (the one
//     step readers notice, a single rename);
//  5. sweep again: the replaced files go, files that arrived meanwhile move to the new version,
//     and the hour's pieces go.
// A crash before step 4 leaves the hour as it was; after it, the next run only tidies up.
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Db } from '../db/pool.ts'
import { DataError } from '../lib/errors.ts'
import {
  buildingDir,
  compactedFileName,
  hourLabel,
  isDataFile,
  manifestPath,
  tempName,
  versionDir,
  versionsDir
} from '../archive/layout.ts'
import { currentVersion, fsyncPath, publishFile, switchVersion } from '../archive/versions.ts'
import { hourTotals } from './aggregate.ts'
import { type Engine } from './duckdb-engine.ts'
import { replaceHour } from './hourly-tables.ts'
import { checkCopied, fileStats, mergeFiles } from './merge.ts'
import { fileIdentities, removeHourPieces, usablePieces, type Piece } from './pieces.ts'
import { sweepHour } from './sweep.ts'

export interface CompactContext {
  archiveDir: string
  db: Db
  /** Holds the users as read when the run started (hourly-tables.ts, snapshotUsers). */
  engine: Engine
}

export interface HourResult {
  hour: number
  /** `empty`: no data; `compacted`: files merged; `unchanged`: already one compacted file (tables rewritten). */
  status: 'empty' | 'compacted' | 'unchanged'
  rowsRead: number
  duplicates: number
  filesMerged: number
  /** Pieces compacted ahead (ahead.ts) that stood for some of the files merged. */
  piecesUsed: number
  /** Files (pieces included) whose row groups were copied as they are. */
  filesCopied: number
  rowsWritten: number
  seconds: number
  /** Wall-clock seconds per step, for benchmarks and logs. */
  phases: Partial<Record<Phase, number>>
}

export type Phase = 'sweep' | 'plan' | 'merge' | 'aggregate' | 'tables' | 'switch'

/**
 * The clock of one hour's compaction: `lap` adds the time since the last lap to a phase, and
 * `result` makes the hour's result with the counts given and the time so far.
 */
export function hourClock(hour: number): {
  lap: (phase: Phase) => void
  result: (status: HourResult['status'], counts?: Partial<HourResult>) => HourResult
} {
  const started = performance.now()
  const phases: HourResult['phases'] = {}
  let mark = started
  return {
    lap: phase => {
      const now = performance.now()
      phases[phase] = (phases[phase] ?? 0) + (now - mark) / 1000
      mark = now
    },
    result: (status, counts = {}) => ({
      hour,
      status,
      rowsRead: 0,
      duplicates: 0,
      filesMerged: 0,
      piecesUsed: 0,
      filesCopied: 0,
      rowsWritten: 0,
      ...counts,
      seconds: (performance.now() - started) / 1000,
      phases
    })
  }
}

export async function compactHour(context: CompactContext, hour: number): Promise<HourResult> {
  const { lap, result } = hourClock(hour)
  const { archiveDir } = context
  await sweepHour(archiveDir, hour)
  const current = await currentVersion(archiveDir, hour)
  const inputs = current === undefined ? [] : await dataFiles(versionDir(archiveDir, hour, current))
  lap('sweep')
  if (current === undefined || inputs.length === 0) {
    await removeHourPieces(archiveDir, hour)
    return result('empty')
  }

  const currentDir = versionDir(archiveDir, hour, current)
  const compacted = compactedFileName(hour)
  if (inputs.length === 1 && inputs[0] === compacted) {
    // Pieces left by a run killed after its switch: the files they stood for are gone.
    await removeHourPieces(archiveDir, hour)
    const rows = await aggregateAndStore(context, hour, join(currentDir, compacted), lap)
    return result('unchanged', { rowsRead: rows, rowsWritten: rows })
  }

  const next = current + 1
  let merged: { rowsRead: number; rowsWritten: number; copied: string[] }
  let pieces: Piece[] = []
  const building = buildingDir(archiveDir, hour, next)
  await rm(building, { recursive: true, force: true })
  await mkdir(building, { recursive: true })
  try {
    // Pieces compacted ahead stand for the files they hold (and carry their stats); the other
    // files' stats come from their footers.
    pieces = (await usablePieces(archiveDir, hour, () => fileIdentities(currentDir, inputs))).pieces
    const held = new Set(pieces.flatMap(p => p.inputs.map(input => input.name)))
    const rest = await fileStats(
      context.engine,
      inputs.filter(name => !held.has(name)).map(name => join(currentDir, name))
    )
    const stats = [...pieces.map(p => p.stats), ...rest]
    lap('plan')
    if (stats.every(f => f.rows === 0)) {
      await rm(building, { recursive: true, force: true })
      await removeHourPieces(archiveDir, hour)
      return result('empty')
    }
    const target = join(building, compacted)
    const temp = join(building, tempName(compacted))
    merged = await mergeFiles(context.engine, stats, temp, building)
    // Rows read as if the files themselves had been merged: a piece holds its inputs' rows once.
    merged.rowsRead = pieces.reduce((sum, p) => sum + p.inputRows, 0) + rest.reduce((sum, f) => sum + f.rows, 0)
    await publishFile(temp, target)
    await removeScratch(building, compacted)
    lap('merge')
    await aggregateAndStore(context, hour, target, lap, () => checkCopied(context.engine, target, merged.copied))
    await writeManifest(archiveDir, hour, next, inputs)
    await rename(building, versionDir(archiveDir, hour, next))
    await fsyncPath(versionsDir(archiveDir))
  } catch (error) {
    await rm(building, { recursive: true, force: true })
    await rm(manifestPath(archiveDir, hour, next), { force: true })
    // A piece that cannot be read goes, so that the next run merges the files it stood for.
    if (error instanceof DataError && pieces.some(p => error.message.includes(p.path)))
      await removeHourPieces(archiveDir, hour)
    throw error instanceof DataError
      ? new DataError(`hour ${hourLabel(hour)} left as it was: ${error.message}`, error)
      : error
  }
  await switchVersion(archiveDir, hour, next)
  await sweepHour(archiveDir, hour)
  await removeHourPieces(archiveDir, hour)
  lap('switch')
  return result('compacted', {
    rowsRead: merged.rowsRead,
    rowsWritten: merged.rowsWritten,
    duplicates: merged.rowsRead - merged.rowsWritten,
    filesMerged: inputs.length,
    piecesUsed: pieces.length,
    filesCopied: merged.copied.length
  })
}

/** `check` runs while PostgreSQL loads the rows; they are committed only if it passes. */
export async function aggregateAndStore(
  context: Pick<CompactContext, 'db' | 'engine'>,
  hour: number,
  file: string,
  lap: (phase: Phase) => void,
  check?: () => Promise<void>
): Promise<number> {
  const totals = await hourTotals(context.engine, file, hour)
  lap('aggregate')
  const checked = check?.()
  // Whatever happens, DuckDB is done with the file before the caller may delete it.
  const settled = checked?.then(
    () => {},
    () => {}
  )
  try {
    await replaceHour(context.db, hour, totals, checked)
  } finally {
    await settled
    await rm(totals.bytesFile, { force: true })
    await rm(totals.quotaFile, { force: true })
  }
  lap('tables')
  return totals.rows
}

async function dataFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(isDataFile).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DataError(`${dir} is missing: the hour's link points to a version that does not exist`)
    throw error
  }
}

async function removeScratch(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) if (name !== keep) await rm(join(dir, name), { force: true })
}

async function writeManifest(
  archiveDir: string,
  hour: number,
  version: number,
  inputs: readonly string[]
): Promise<void> {
  const path = manifestPath(archiveDir, hour, version)
  const temp = join(versionsDir(archiveDir), tempName('manifest'))
  await writeFile(temp, JSON.stringify({ hour: hourLabel(hour), version, inputs }) + '\n')
  await publishFile(temp, path)
}
