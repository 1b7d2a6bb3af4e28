// Merges an hour's files into one Parquet file sorted by (topic, partition, offset), each
// record once, following planMerge. Readers of the archive never see this file until the
// compactor links its version.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DataError, errorMessage } from '../lib/errors.ts'
import { ARCHIVE_COLUMNS, tempName } from '../archive/layout.ts'
import { sqlList, sqlString } from '../archive/sql.ts'
import { type Engine } from './duckdb-engine.ts'
import {
  concatParquet,
  footerRows,
  isPlainZstd,
  readFooter,
  rowGroupSizes,
  schemaBytes,
  type ParquetFooter
} from './parquet-concat.ts'
import { type FileStats, planMerge } from './plan.ts'

const KEY = '"topic", "partition", "offset"'
const COLUMNS = ARCHIVE_COLUMNS.map(([name, type]) => `CAST("${name}" AS ${type}) AS "${name}"`).join(', ')
// Ties between two copies of a record are broken on every column, so reruns pick the same one.
const ORDER = `${KEY}, ${ARCHIVE_COLUMNS.slice(0, 7)
  .map(([name]) => `"${name}"`)
  .join(', ')}`

export const ROW_GROUP_ROWS = 122_880
// DuckDB ends a row group at the first chunk of rows that reaches ROW_GROUP_ROWS, and a chunk
// holds at most this many rows (one per file for small files): a row group of the compacted
// format holds fewer than ROW_GROUP_ROWS + CHUNK_ROWS rows.
export const CHUNK_ROWS = 2_048

export interface MergeResult {
  rowsRead: number
  rowsWritten: number
  plan: 'ordered' | 'sort'
  /** Input files whose row groups were copied without decoding them (see checkCopied). */
  copied: string[]
}

/** Row counts and Kafka-coordinate ranges of each file, from the Parquet footers alone. */
export async function fileStats(engine: Engine, paths: readonly string[]): Promise<FileStats[]> {
  if (paths.length === 0) return []
  const reader = await dataQuery(
    engine,
    paths,
    `
    SELECT file_name,
      sum(row_group_num_rows) FILTER (WHERE path_in_schema = 'offset') AS rows,
      min(stats_min_value) FILTER (WHERE path_in_schema = 'topic') AS topic_min,
      max(stats_max_value) FILTER (WHERE path_in_schema = 'topic') AS topic_max,
      min(TRY_CAST(stats_min_value AS INTEGER)) FILTER (WHERE path_in_schema = 'partition') AS partition_min,
      max(TRY_CAST(stats_max_value AS INTEGER)) FILTER (WHERE path_in_schema = 'partition') AS partition_max,
      min(TRY_CAST(stats_min_value AS BIGINT)) FILTER (WHERE path_in_schema = 'offset') AS offset_min,
      max(TRY_CAST(stats_max_value AS BIGINT)) FILTER (WHERE path_in_schema = 'offset') AS offset_max
    FROM parquet_metadata(${sqlList(paths)}) GROUP BY file_name`
  )
  const byPath = new Map(reader.map(r => [String(r.file_name), r]))
  return paths.map(path => {
    const r = byPath.get(path)
    // A file without row groups holds no rows.
    if (r === undefined)
      return {
        path,
        rows: 0,
        topicMin: null,
        topicMax: null,
        partitionMin: null,
        partitionMax: null,
        offsetMin: null,
        offsetMax: null
      }
    return {
      path,
      rows: Number(r.rows ?? 0),
      topicMin: r.topic_min as string | null,
      topicMax: r.topic_max as string | null,
      partitionMin: r.partition_min === null ? null : Number(r.partition_min),
      partitionMax: r.partition_max === null ? null : Number(r.partition_max),
      offsetMin: r.offset_min === null ? null : BigInt(r.offset_min as bigint),
      offsetMax: r.offset_max === null ? null : BigInt(r.offset_max as bigint)
    }
  })
}

/**
 * Writes the merged file to `target` (a temp name the caller publishes); scratch files go in `workDir`.
 * With an ordered plan, files already in the compacted file's format (see `copiesAsIs`) keep
 * their bytes: the rest is encoded by DuckDB into scratch files, and the pieces are concatenated
 * in plan order. Encoding is most of a merge's cost, so an hour of large files merges at about
 * the speed of a file copy.
 */
export async function mergeFiles(
  engine: Engine,
  files: readonly FileStats[],
  target: string,
  workDir: string
): Promise<MergeResult> {
  const rowsRead = files.reduce((sum, f) => sum + f.rows, 0)
  const plan = planMerge(files)
  if (plan.kind === 'sort') {
    await copy(engine, plan.paths, dedupeQuery(plan.paths), target)
    return { rowsRead, rowsWritten: await countRows(engine, target), plan: plan.kind, copied: [] }
  }
  const schema = await compactedSchema(engine, workDir)
  const copied = new Map<string, ParquetFooter>()
  for (const unit of plan.units) {
    if (unit.kind !== 'file') continue
    const footer = await readFooter(unit.path).catch(() => undefined)
    if (footer !== undefined && copiesAsIs(footer, schema)) copied.set(unit.path, footer)
  }
  if (copied.size === 0) {
    const sources: string[] = []
    for (const unit of plan.units) {
      sources.push(
        unit.kind === 'file'
          ? unit.path
          : await dedupe(engine, unit.paths, join(workDir, tempName(`dedupe-${sources.length}.parquet`)))
      )
    }
    // The multi-file reader keeps the list's order (insertion order is preserved by default).
    await copy(engine, sources, `SELECT ${COLUMNS} FROM ${source(sources)}`, target)
    return { rowsRead, rowsWritten: await countRows(engine, target), plan: plan.kind, copied: [] }
  }
  const pieces: ParquetFooter[] = []
  let pending: string[] = []
  const encodePending = async (): Promise<void> => {
    if (pending.length === 0) return
    const scratch = join(workDir, tempName(`piece-${pieces.length}.parquet`))
    await copy(engine, pending, `SELECT ${COLUMNS} FROM ${source(pending)}`, scratch)
    pieces.push(await readFooter(scratch))
    pending = []
  }
  for (const unit of plan.units) {
    if (unit.kind === 'file') {
      const footer = copied.get(unit.path)
      if (footer === undefined) {
        pending.push(unit.path)
        continue
      }
      await encodePending()
      pieces.push(footer)
    } else {
      await encodePending()
      pieces.push(
        await readFooter(await dedupe(engine, unit.paths, join(workDir, tempName(`piece-${pieces.length}.parquet`))))
      )
    }
  }
  await encodePending()
  const rows = await concatParquet(pieces, target)
  return { rowsRead, rowsWritten: Number(rows), plan: plan.kind, copied: [...copied.keys()] }
}

// The columns hourTotals does not read; its scan decodes the others.
const UNAGGREGATED = '"timestamp", email, quota, topic, "partition", "offset"'

/**
 * Copied pages were never decoded: this decodes the merged file's columns that the aggregation
 * does not read, so a file whose footer is fine but whose pages are damaged still fails the
 * hour before anything is committed, and is named.
 */
export async function checkCopied(engine: Engine, merged: string, copied: readonly string[]): Promise<void> {
  if (copied.length === 0) return
  const check = async (path: string): Promise<void> => {
    await dataQuery(
      engine,
      [path],
      `SELECT sum(hash(${UNAGGREGATED})) FROM read_parquet(${sqlString(path)}, hive_partitioning = false)`
    )
  }
  try {
    await check(merged)
  } catch (error) {
    for (const path of copied) await check(path)
    throw error
  }
}

/**
 * A file keeps its bytes in the compacted file when it is what DuckDB writes for it: the
 * compacted schema, ZSTD, and row groups of the compacted size (all but its last at least half
 * of it), so that copying hundreds of small files does not leave as many tiny row groups. Files
 * DuckDB encoded from small files have row groups a little over ROW_GROUP_ROWS (see CHUNK_ROWS):
 * pieces compacted ahead (ahead.ts) are such files.
 */
function copiesAsIs(footer: ParquetFooter, schema: Uint8Array): boolean {
  const sizes = rowGroupSizes(footer)
  const big = BigInt(ROW_GROUP_ROWS)
  return (
    footerRows(footer) >= big &&
    sizes.every((n, i) => n < big + BigInt(CHUNK_ROWS) && (i === sizes.length - 1 || 2n * n >= big)) &&
    isPlainZstd(footer, schema)
  )
}

// The schema DuckDB writes for the archive columns, from an empty file: pieces must all have it.
const schemas = new WeakMap<Engine, Uint8Array>()

async function compactedSchema(engine: Engine, workDir: string): Promise<Uint8Array> {
  const known = schemas.get(engine)
  if (known !== undefined) return known
  const path = join(workDir, tempName('schema.parquet'))
  const empty = ARCHIVE_COLUMNS.map(([name, type]) => `CAST(NULL AS ${type}) AS "${name}"`).join(', ')
  await engine.connection.run(
    `COPY (SELECT ${empty} LIMIT 0) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`
  )
  const schema = schemaBytes(await readFooter(path))
  await rm(path, { force: true })
  schemas.set(engine, schema)
  return schema
}

async function dedupe(engine: Engine, paths: readonly string[], scratch: string): Promise<string> {
  await copy(engine, paths, dedupeQuery(paths), scratch)
  return scratch
}

async function countRows(engine: Engine, path: string): Promise<number> {
  return Number((await dataQuery(engine, [path], `SELECT count(*) AS n FROM read_parquet(${sqlString(path)})`))[0]!.n)
}

// DISTINCT ON's ORDER BY only picks which copy stays; the outer ORDER BY sorts the result.
function dedupeQuery(paths: readonly string[]): string {
  return `SELECT * FROM (SELECT DISTINCT ON (${KEY}) * FROM (SELECT ${COLUMNS} FROM ${source(paths)}) ORDER BY ${ORDER}) ORDER BY ${KEY}`
}

function source(paths: readonly string[]): string {
  return `read_parquet(${sqlList(paths)}, hive_partitioning = false)`
}

async function copy(engine: Engine, inputs: readonly string[], query: string, target: string): Promise<void> {
  await dataQuery(
    engine,
    inputs,
    `COPY (${query}) TO ${sqlString(target)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`
  )
}

/** Runs a query over archive files; a file DuckDB cannot read becomes a DataError naming it. */
export async function dataQuery(
  engine: Engine,
  inputs: readonly string[],
  sql: string
): Promise<Array<Record<string, unknown>>> {
  return withDataErrors(
    inputs,
    async () => (await engine.connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>
  )
}

/** Like dataQuery, the result as one array per column. */
export async function dataColumns(
  engine: Engine,
  inputs: readonly string[],
  sql: string
): Promise<Record<string, unknown[]>> {
  return withDataErrors(
    inputs,
    async () => (await engine.connection.runAndReadAll(sql)).getColumnsObjectJS() as Record<string, unknown[]>
  )
}

async function withDataErrors<T>(inputs: readonly string[], run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    const message = errorMessage(error).split('\n')[0]!
    const named = inputs.find(path => message.includes(path))
    throw new DataError(
      named === undefined
        ? `cannot read the hour's archive files: ${message}`
        : `${named} is missing or not a readable archive file: ${message}`,
      error
    )
  }
}
