// The batch layer as a daemon: every interval, compact each hour that has closed (its end plus
// the allowed lateness has passed) and is not yet one compacted file. Late files that land in
// an hour already compacted make it a candidate again, so it is compacted again. Hours not yet
// due are compacted ahead (ahead.ts): their files are encoded into pieces while they arrive, so
// that little is left to encode when the hour is due.
import { readdir } from 'node:fs/promises'
import { compactedFileName, HOUR_SECONDS, isDataFile, versionDir } from '../sinks/archive-layout.ts'
import { CellstreamError } from '../lib/errors.ts'
import { currentVersion, listHours } from '../sinks/archive-versions.ts'
import { aheadCache, compactAhead, type AheadOutcome } from './ahead.ts'
import { compactHours, type HourOutcome } from './run.ts'

export interface WatchOptions {
  archiveDir: string
  databaseUrl: string
  latenessSeconds: number
  intervalSeconds: number
  signal: AbortSignal
  onHour?: (outcome: HourOutcome) => void
  /** Called after each round of compaction ahead, for each hour not yet due. */
  onAhead?: (outcome: AheadOutcome) => void
  /** The clock, in epoch seconds; tests move it. */
  now?: () => number
}

export async function watchArchive (options: WatchOptions): Promise<void> {
  const now = options.now ?? (() => Date.now() / 1000)
  const cache = aheadCache()
  while (!options.signal.aborted) {
    const due = await dueHours(options.archiveDir, now() - options.latenessSeconds)
    if (due.length > 0) {
      await compactHours({ archiveDir: options.archiveDir, databaseUrl: options.databaseUrl, hours: due, onHour: outcome => options.onHour?.(outcome) })
    }
    if (options.signal.aborted) break
    const open = await hoursNotDue(options.archiveDir, now() - options.latenessSeconds)
    if (open.length > 0) {
      const outcomes = await compactAhead({ archiveDir: options.archiveDir, hours: open, now: now(), cache }).catch(skipIfLocked)
      for (const outcome of outcomes) options.onAhead?.(outcome)
    }
    await pause(options.intervalSeconds * 1000, options.signal)
  }
}

// Another compactor (`compact --hour`, say) holds the archive: the next interval tries again.
// Work ahead can wait; it runs every interval, so a busy lock would otherwise stop the watcher.
function skipIfLocked (error: unknown): AheadOutcome[] {
  if (error instanceof CellstreamError && error.code === 'CS_LOCKED') return []
  throw error
}

/** Hours that have not closed by `closedBy` (still open, or within the lateness): the ones to compact ahead. */
export async function hoursNotDue (archiveDir: string, closedBy: number): Promise<number[]> {
  return (await listHours(archiveDir)).filter(hour => hour + HOUR_SECONDS > closedBy)
}

/** Closed hours (ending at or before `closedBy`) whose folder holds anything but the compacted file. */
export async function dueHours (archiveDir: string, closedBy: number): Promise<number[]> {
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

function pause (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}
