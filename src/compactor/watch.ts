// The batch layer as a daemon: every interval, compact each hour that has closed (its end plus
// the allowed lateness has passed) and is not yet one compacted file. Late files that land in
// an hour already compacted make it a candidate again, so it is compacted again. Hours not yet
// due are compacted ahead (ahead.ts): their files are encoded into pieces while they arrive, so
// that little is left to encode when the hour is due.
import { readdir } from 'node:fs/promises'
import { compactedFileName, HOUR_SECONDS, isDataFile, versionDir } from '../archive/layout.ts'
import { CellstreamError, errorMessage } from '../lib/errors.ts'
import { currentVersion, listHours } from '../archive/versions.ts'
import type { S3Archive } from '../archive/s3-archive.ts'
import { aheadCache, compactAhead, type AheadCache, type AheadOutcome } from './ahead.ts'
import { compactHours, type HourOutcome } from './run.ts'

export interface WatchOptions {
  /** The archive; with `s3`, the compactor's local folder (run.ts). */
  archiveDir: string
  s3?: S3Archive
  databaseUrl: string
  latenessSeconds: number
  intervalSeconds: number
  signal: AbortSignal
  onHour?: (outcome: HourOutcome) => void
  /** Called after each round of compaction ahead, for each hour not yet due, or once for a round skipped as a whole. */
  onAhead?: (outcome: AheadReport) => void
  /** The clock, in epoch seconds; tests move it. */
  now?: () => number
}

/**
 * A round ahead that did not run, or stopped part way: another compactor held the archive
 * (`locked`: `compact --hour`, say), or the round failed on something else than an hour's data
 * (a full disk, a folder it may not write). The next interval tries again.
 */
export interface AheadSkipped {
  ok: false
  hour: undefined
  locked: boolean
  error: Error
}

export type AheadReport = AheadOutcome | AheadSkipped

export async function watchArchive(options: WatchOptions): Promise<void> {
  const now = options.now ?? (() => Date.now() / 1000)
  const cache = aheadCache()
  if (options.s3 !== undefined) {
    await watchS3(options, options.s3, now)
    return
  }
  while (!options.signal.aborted) {
    const due = await dueHours(options.archiveDir, now() - options.latenessSeconds)
    if (due.length > 0) {
      await compactHours({
        archiveDir: options.archiveDir,
        databaseUrl: options.databaseUrl,
        hours: due,
        onHour: outcome => options.onHour?.(outcome)
      })
    }
    if (options.signal.aborted) break
    for (const outcome of await roundAhead(options, now, cache)) options.onAhead?.(outcome)
    await pause(options.intervalSeconds * 1000, options.signal)
  }
}

// Work ahead is optional: it only saves work at the close, and the hour's compaction encodes
// whatever it left. So no failure of a round stops the watcher, and with it the compaction of
// the hours that are due; the round is reported and the next interval tries again.
async function roundAhead(options: WatchOptions, now: () => number, cache: AheadCache): Promise<AheadReport[]> {
  try {
    // The hours not due (still open, or within the lateness) are the ones to compact ahead.
    const closedBy = now() - options.latenessSeconds
    const open = (await listHours(options.archiveDir)).filter(hour => hour + HOUR_SECONDS > closedBy)
    return open.length === 0
      ? []
      : await compactAhead({ archiveDir: options.archiveDir, hours: open, now: now(), cache })
  } catch (error) {
    const locked = error instanceof CellstreamError && error.code === 'CS_LOCKED'
    const skipped = locked
      ? error
      : new Error(`compacting ahead failed, tried again in ${options.intervalSeconds} s: ${errorMessage(error)}`, {
          cause: error
        })
    return [{ ok: false, hour: undefined, locked, error: skipped }]
  }
}

/**
 * The watcher on object storage: the due hours only (compacting ahead keeps its pieces beside a
 * local archive). A round that cannot reach the store or PostgreSQL is reported and tried again
 * at the next interval, so an outage is waited out.
 */
async function watchS3(options: WatchOptions, archive: S3Archive, now: () => number): Promise<void> {
  while (!options.signal.aborted) {
    try {
      const due = await dueS3Hours(archive, now() - options.latenessSeconds)
      if (due.length > 0) {
        await compactHours({
          archiveDir: options.archiveDir,
          s3: archive,
          databaseUrl: options.databaseUrl,
          hours: due,
          onHour: outcome => options.onHour?.(outcome)
        })
      }
    } catch (error) {
      if (!(error instanceof CellstreamError)) throw error
      const locked = error.code === 'CS_LOCKED'
      const skipped = new Error(
        `compacting failed, tried again in ${options.intervalSeconds} s: ${errorMessage(error)}`,
        { cause: error }
      )
      options.onAhead?.({ ok: false, hour: undefined, locked, error: locked ? error : skipped })
    }
    await pause(options.intervalSeconds * 1000, options.signal)
  }
}

/** Closed hours of an archive in object storage that hold anything but their compacted file. */
export async function dueS3Hours(archive: S3Archive, closedBy: number): Promise<number[]> {
  const due: number[] = []
  for (const hour of await archive.listHours()) {
    if (hour + HOUR_SECONDS > closedBy) continue
    const { files, manifest } = await archive.view(hour)
    if (files.length > 0 && !(files.length === 1 && files[0] === manifest?.compacted)) due.push(hour)
  }
  return due
}

/** Closed hours (ending at or before `closedBy`) whose folder holds anything but the compacted file. */
export async function dueHours(archiveDir: string, closedBy: number): Promise<number[]> {
  const due: number[] = []
  for (const hour of await listHours(archiveDir)) {
    if (hour + HOUR_SECONDS > closedBy) continue
    const version = await currentVersion(archiveDir, hour).catch(() => undefined)
    if (version === undefined) continue
    const files = (await readdir(versionDir(archiveDir, hour, version)).catch(() => [])).filter(isDataFile)
    if (files.length > 0 && !(files.length === 1 && files[0] === compactedFileName(hour))) due.push(hour)
  }
  return due
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}
