// Compacts a list of hours (a range, or what the watcher found), holding the archive lock and
// one DuckDB engine for the whole run. User metadata is read once, when the run starts.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { closeDb, describeDbError, openDb } from '../db/pool.ts'
import type { S3Archive } from '../archive/s3-archive.ts'
import { DataError, UnavailableError } from '../lib/errors.ts'
import { openEngine } from './duckdb-engine.ts'
import { compactHour, type HourResult } from './compact-hour.ts'
import { snapshotUsers } from './hourly-tables.ts'
import { lockArchive } from './lock.ts'
import { clearWorkDir, compactS3Hour } from './s3-compact.ts'

/** Files passed between DuckDB and PostgreSQL; hidden from readers of the archive. */
export const SCRATCH_DIR = '.compactor-scratch'

export interface RunOptions {
  /** The archive; with `s3`, a local folder of this compactor's own (its lock, scratch and downloads). */
  archiveDir: string
  /** An archive in object storage (s3-compact.ts) instead of the folder. */
  s3?: S3Archive
  databaseUrl: string
  hours: readonly number[]
  /** Called after each hour, done or failed. */
  onHour?: (outcome: HourOutcome, index: number, total: number) => void
  /** Wall-clock seconds of the steps around the hours, for benchmarks. */
  onRunPhase?: (phase: RunPhase, seconds: number) => void
}

/** `open`: the lock and DuckDB; `users`: user_metadata into DuckDB; `close`: DuckDB, the lock and the pool. */
export type RunPhase = 'open' | 'users' | 'close'

export type HourOutcome = { ok: true; result: HourResult } | { ok: false; hour: number; error: DataError }

export async function compactHours(options: RunOptions): Promise<HourOutcome[]> {
  let mark = performance.now()
  const lap = (phase: RunPhase): void => {
    const now = performance.now()
    options.onRunPhase?.(phase, (now - mark) / 1000)
    mark = now
  }
  await mkdir(options.archiveDir, { recursive: true })
  const db = openDb(options.databaseUrl, { max: 2 })
  try {
    const release = await lockArchive(options.archiveDir)
    if (options.s3 !== undefined) await clearWorkDir(options.archiveDir)
    const engine = await openEngine(join(options.archiveDir, SCRATCH_DIR))
    lap('open')
    try {
      await snapshotUsers(db, engine).catch(error => {
        throw describeDbError(error, options.databaseUrl)
      })
      lap('users')
      const outcomes: HourOutcome[] = []
      for (const [index, hour] of options.hours.entries()) {
        let outcome: HourOutcome
        try {
          const result =
            options.s3 === undefined
              ? await compactHour({ archiveDir: options.archiveDir, db, engine }, hour)
              : await compactS3Hour({ archive: options.s3, db, engine, workDir: options.archiveDir }, hour)
          outcome = { ok: true, result }
        } catch (error) {
          if (error instanceof UnavailableError) throw error
          if (!(error instanceof DataError)) throw describeDbError(error, options.databaseUrl)
          outcome = { ok: false, hour, error }
        }
        outcomes.push(outcome)
        options.onHour?.(outcome, index, options.hours.length)
        mark = performance.now()
      }
      return outcomes
    } finally {
      engine.close()
      await release()
    }
  } finally {
    await closeDb(db)
    lap('close')
  }
}
