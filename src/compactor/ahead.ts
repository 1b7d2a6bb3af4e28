// Compaction ahead of the hour's close (docs/archive.md, "Compacting ahead"). The stream writes
// one small Snappy file per partition and one-second commit, 21,600 files for an hour at 10k
// events/s, and encoding them into the compacted format is most of the work of compacting the
// hour. While an hour is open, or closed but not yet due, the watcher encodes each partition's
// files, in offset order, into pieces (pieces.ts) that the hour's compaction copies as they are
// (merge.ts, copiesAsIs): at the close only the files that arrived since are left to encode.
// Nothing readers see changes: pieces live outside the hours until the compaction copies them.
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DataError } from '../lib/errors.ts'
import {
  compactedFileName,
  HOUR_SECONDS,
  hourLabel,
  isDataFile,
  parsePartFileName,
  tempName,
  versionDir
} from '../archive/layout.ts'
import { currentVersion } from '../archive/versions.ts'
import { openEngine, type Engine } from './duckdb-engine.ts'
import { lockArchive } from './lock.ts'
import { fileStats, mergeFiles, ROW_GROUP_ROWS } from './merge.ts'
import {
  aheadDir,
  fileIdentities,
  inputStats,
  overlaps,
  prunePieces,
  publishPiece,
  removeHourPieces,
  removePiece,
  sameIdentity,
  usablePieces,
  type FileIdentity,
  type Piece
} from './pieces.ts'
import { isSimple, type FileStats } from './plan.ts'
import { cutRuns } from './runs.ts'
import { SCRATCH_DIR } from './run.ts'

/**
 * An open hour's partition is encoded once this many of its rows wait unencoded: four row
 * groups, about 5 minutes of one partition at 10k events/s over 6 partitions, so about a dozen
 * pieces per partition and hour. Smaller pieces would add more row groups that are not full
 * (each piece's last); larger ones would leave more to encode when the hour closes.
 */
const OPEN_PIECE_ROWS = 4 * ROW_GROUP_ROWS

/** Once the hour has closed, what is left of a partition becomes a piece if copiesAsIs takes it. */
const CLOSED_PIECE_ROWS = ROW_GROUP_ROWS

export interface AheadHourResult {
  hour: number
  /** Pieces written by this round, and the files and rows they hold. */
  piecesWritten: number
  filesEncoded: number
  rowsEncoded: number
  /** Pieces deleted by this round: a file they hold changed, vanished or was overlapped by a replay. */
  piecesDropped: number
  /** Pieces of the hour after this round. */
  pieces: number
  /** Writer files of the hour that no piece holds after this round. */
  filesLeft: number
  seconds: number
}

export type AheadOutcome = { ok: true; result: AheadHourResult } | { ok: false; hour: number; error: DataError }

interface KnownFile {
  identity: FileIdentity
  stats: FileStats
}

/**
 * What a round learnt about an hour's writer files, for the next rounds: their stats (read from
 * their footers once), and the files DuckDB could not read, which are left for the hour's
 * compaction to report instead of failing every round.
 */
export interface AheadCache {
  stats: Map<number, Map<string, KnownFile>>
  unreadable: Map<number, Map<string, FileIdentity>>
}

export function aheadCache(): AheadCache {
  return { stats: new Map(), unreadable: new Map() }
}

export interface AheadOptions {
  archiveDir: string
  /** Hours to work on; pieces of other hours that are gone or compacted are deleted. */
  hours: readonly number[]
  /** The time, in epoch seconds: an hour that ended by then is closed. */
  now: number
  /** Kept between rounds by the watcher. */
  cache?: AheadCache
  /** Rows a piece needs in an open and in a closed hour; OPEN_PIECE_ROWS and CLOSED_PIECE_ROWS unless tests shrink them. */
  pieceRows?: PieceRows
}

export interface PieceRows {
  open: number
  closed: number
}

/**
 * One round of compaction ahead over `hours`, holding the archive lock. DuckDB runs on one
 * thread: the work has the whole hour, runs beside the stream processor, and one thread spends
 * the least CPU time per row.
 */
export async function compactAhead(options: AheadOptions): Promise<AheadOutcome[]> {
  const { archiveDir } = options
  const cache = options.cache ?? aheadCache()
  await mkdir(archiveDir, { recursive: true })
  const release = await lockArchive(archiveDir)
  let opened: Promise<Engine> | undefined
  const engine = (): Promise<Engine> => (opened ??= openEngine(join(archiveDir, SCRATCH_DIR), { threads: 1 }))
  const pieceRows = options.pieceRows ?? { open: OPEN_PIECE_ROWS, closed: CLOSED_PIECE_ROWS }
  try {
    const outcomes: AheadOutcome[] = []
    for (const hour of options.hours) {
      try {
        outcomes.push({
          ok: true,
          result: await compactAheadHour(
            { archiveDir, engine, cache, pieceRows },
            hour,
            hour + HOUR_SECONDS <= options.now
          )
        })
      } catch (error) {
        if (!(error instanceof DataError)) throw error
        outcomes.push({
          ok: false,
          hour,
          error: new DataError(`hour ${hourLabel(hour)}, compacting ahead: ${error.message}`, error)
        })
      }
    }
    for (const map of [cache.stats, cache.unreadable]) {
      for (const hour of map.keys()) if (!options.hours.includes(hour)) map.delete(hour)
    }
    await prunePieces(archiveDir, options.hours)
    return outcomes
  } finally {
    if (opened !== undefined) (await opened.catch(() => undefined))?.close()
    await release()
  }
}

interface AheadContext {
  archiveDir: string
  engine: () => Promise<Engine>
  cache: AheadCache
  pieceRows: PieceRows
}

async function compactAheadHour(context: AheadContext, hour: number, closed: boolean): Promise<AheadHourResult> {
  const started = performance.now()
  const { archiveDir, cache } = context
  const result: AheadHourResult = {
    hour,
    piecesWritten: 0,
    filesEncoded: 0,
    rowsEncoded: 0,
    piecesDropped: 0,
    pieces: 0,
    filesLeft: 0,
    seconds: 0
  }
  const done = (): AheadHourResult => ({ ...result, seconds: (performance.now() - started) / 1000 })
  const version = await currentVersion(archiveDir, hour)
  if (version === undefined) return done()
  const dir = versionDir(archiveDir, hour, version)
  const names = (await readdir(dir).catch(() => [])).filter(isDataFile)
  if (names.includes(compactedFileName(hour))) {
    // Compacted already: late files are merged with the compacted file by a full sort anyway.
    await removeHourPieces(archiveDir, hour)
    return done()
  }
  const identities = fileIdentities(dir, names)
  const usable = await usablePieces(archiveDir, hour, () => identities)
  let pieces = usable.pieces
  result.piecesDropped = usable.dropped
  const held = new Set(pieces.flatMap(p => p.inputs.map(input => input.name)))

  // The writer's files no piece holds, with their stats: from the last round if unchanged.
  const known = cache.stats.get(hour) ?? new Map<string, KnownFile>()
  const unreadable = cache.unreadable.get(hour) ?? new Map<string, FileIdentity>()
  const loose = new Map<string, KnownFile>()
  const unknown: string[] = []
  // A file DuckDB cannot read is remembered, and left to the hour's compaction to report.
  const remember = (error: unknown, paths: readonly string[]): unknown => {
    const named = error instanceof DataError ? paths.find(path => error.message.includes(path)) : undefined
    const name = named?.slice(dir.length + 1)
    if (name !== undefined && identities.has(name)) unreadable.set(name, identities.get(name)!)
    return error
  }
  for (const [name, identity] of identities) {
    if (held.has(name) || parsePartFileName(name) === undefined) continue
    const seen = known.get(name)
    const bad = unreadable.get(name)
    if (seen !== undefined && sameIdentity(seen.identity, identity))
      loose.set(name, { identity, stats: { ...seen.stats, path: join(dir, name) } })
    else if (bad === undefined || !sameIdentity(bad, identity)) unknown.push(name)
  }
  cache.stats.set(hour, loose)
  cache.unreadable.set(hour, unreadable)
  if (unknown.length > 0) {
    const paths = unknown.map(name => join(dir, name))
    const stats = await fileStats(await context.engine(), paths).catch(error => {
      throw remember(error, paths)
    })
    unknown.forEach((name, i) => loose.set(name, { identity: identities.get(name)!, stats: stats[i]! }))
  }

  // A file overlapping a piece's offsets is a replay after a crash: the piece goes, and its
  // inputs are encoded again with the replay, so the duplicates are dropped now, not at the close.
  for (;;) {
    const overlapped = pieces.filter(p => [...loose.values()].some(f => overlaps(f.stats, p.stats)))
    if (overlapped.length === 0) break
    for (const piece of overlapped) {
      await removePiece(piece)
      result.piecesDropped++
      for (const input of piece.inputs) {
        loose.set(input.name, {
          identity: { size: input.size, mtimeNs: input.mtimeNs, ino: input.ino },
          stats: inputStats(dir, piece, input)
        })
      }
    }
    pieces = pieces.filter(p => !overlapped.includes(p))
  }

  // Per partition: small files are encoded in runs of consecutive offsets; pieces, large files
  // (which may be copied as they are, or are rare enough to encode at the close) and files
  // DuckDB could not read bound the runs.
  const series = new Map<string, { runs: FileStats[]; bounds: FileStats[] }>()
  const of = (f: FileStats): { runs: FileStats[]; bounds: FileStats[] } => {
    const key = `${f.topicMin!}\u0000${f.partitionMin!}`
    let entry = series.get(key)
    if (entry === undefined) series.set(key, (entry = { runs: [], bounds: [] }))
    return entry
  }
  for (const piece of pieces) of(piece.stats).bounds.push(piece.stats)
  for (const [name, file] of loose) {
    if (!isSimple(file.stats)) continue
    const bad = unreadable.get(name)
    const bound = file.stats.rows >= ROW_GROUP_ROWS || (bad !== undefined && sameIdentity(bad, file.identity))
    of(file.stats)[bound ? 'bounds' : 'runs'].push(file.stats)
  }
  const byPath = new Map([...loose].map(([name, file]) => [join(dir, name), { name, ...file }]))
  const encode = async (run: FileStats[]): Promise<void> => {
    const piece = await encodePiece(
      context,
      hour,
      run.map(f => byPath.get(f.path)!)
    ).catch(error => {
      throw remember(
        error,
        run.map(f => f.path)
      )
    })
    pieces.push(piece)
    result.piecesWritten++
    result.filesEncoded += run.length
    result.rowsEncoded += piece.stats.rows
  }
  for (const { runs, bounds } of series.values()) {
    for (const run of cutRuns(runs, bounds, closed ? context.pieceRows.closed : undefined, context.pieceRows.open))
      await encode(run)
  }
  result.pieces = pieces.length
  const holding = new Set(pieces.flatMap(p => p.inputs.map(input => input.name)))
  result.filesLeft = [...identities.keys()].filter(
    name => parsePartFileName(name) !== undefined && !holding.has(name)
  ).length
  return done()
}

/**
 * Encodes the files into a piece with the hour's merge (mergeFiles), and publishes it: their rows
 * in the compacted format, as the merge would write them, but in row groups that end with the
 * piece, so the compacted file's row groups end where its pieces did.
 */
async function encodePiece(
  context: AheadContext,
  hour: number,
  files: ReadonlyArray<KnownFile & { name: string }>
): Promise<Piece> {
  const engine = await context.engine()
  const dir = aheadDir(context.archiveDir, hour)
  await mkdir(dir, { recursive: true })
  const temp = join(dir, tempName('piece.parquet'))
  const work = join(engine.scratchDir, 'ahead')
  await mkdir(work, { recursive: true })
  try {
    const merged = await mergeFiles(
      engine,
      files.map(f => f.stats),
      temp,
      work
    )
    const first = files.reduce(
      (min, f) => (f.stats.offsetMin! < min ? f.stats.offsetMin! : min),
      files[0]!.stats.offsetMin!
    )
    const last = files.reduce(
      (max, f) => (f.stats.offsetMax! > max ? f.stats.offsetMax! : max),
      files[0]!.stats.offsetMax!
    )
    return await publishPiece(context.archiveDir, hour, temp, {
      rows: merged.rowsWritten,
      topic: files[0]!.stats.topicMin!,
      partition: files[0]!.stats.partitionMin!,
      offsetMin: String(first),
      offsetMax: String(last),
      inputs: files.map(f => ({
        name: f.name,
        size: f.identity.size,
        mtimeNs: f.identity.mtimeNs,
        ino: f.identity.ino,
        rows: f.stats.rows,
        offsetMin: String(f.stats.offsetMin),
        offsetMax: String(f.stats.offsetMax)
      }))
    })
  } finally {
    await rm(temp, { force: true })
    await rm(work, { recursive: true, force: true })
  }
}
