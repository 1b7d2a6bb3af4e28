// Merges an hour's files into one Parquet file sorted by (topic, partition, offset), each
// record once, following planMerge. Readers of the archive never see this file until the
// compactor links its version.
import { join } from 'node:path'
import { DataError, errorMessage } from '../lib/errors.ts'
import { ARCHIVE_COLUMNS, tempName } from '../sinks/archive-layout.ts'
import { sqlList, sqlString } from '../sinks/sql.ts'
import { type Engine } from './duckdb-engine.ts'
import { type FileStats, planMerge } from './plan.ts'

const KEY = '"topic", "partition", "offset"'
const COLUMNS = ARCHIVE_COLUMNS.map(([name, type]) => `CAST("${name}" AS ${type}) AS "${name}"`).join(', ')
// Ties between two copies of a record are broken on every column, so reruns pick the same one.
const ORDER = `${KEY}, ${ARCHIVE_COLUMNS.slice(0, 7).map(([name]) => `"${name}"`).join(', ')}`

export interface MergeResult { rowsRead: number, rowsWritten: number, plan: 'ordered' | 'sort' }

/** Row counts and Kafka-coordinate ranges of each file, from the Parquet footers alone. */
export async function fileStats (engine: Engine, paths: readonly string[]): Promise<FileStats[]> {
  const reader = await dataQuery(engine, paths, `
    SELECT file_name,
      sum(row_group_num_rows) FILTER (WHERE path_in_schema = 'offset') AS rows,
      min(stats_min_value) FILTER (WHERE path_in_schema = 'topic') AS topic_min,
      max(stats_max_value) FILTER (WHERE path_in_schema = 'topic') AS topic_max,
      min(TRY_CAST(stats_min_value AS INTEGER)) FILTER (WHERE path_in_schema = 'partition') AS partition_min,
      max(TRY_CAST(stats_max_value AS INTEGER)) FILTER (WHERE path_in_schema = 'partition') AS partition_max,
      min(TRY_CAST(stats_min_value AS BIGINT)) FILTER (WHERE path_in_schema = 'offset') AS offset_min,
      max(TRY_CAST(stats_max_value AS BIGINT)) FILTER (WHERE path_in_schema = 'offset') AS offset_max
    FROM parquet_metadata(${sqlList(paths)}) GROUP BY file_name`)
  const byPath = new Map(reader.map(r => [String(r.file_name), r]))
  return paths.map(path => {
    const r = byPath.get(path)
    // A file without row groups holds no rows.
    if (r === undefined) return { path, rows: 0, topicMin: null, topicMax: null, partitionMin: null, partitionMax: null, offsetMin: null, offsetMax: null }
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

/** Writes the merged file to `target` (a temp name the caller publishes); scratch files go in `workDir`. */
export async function mergeFiles (engine: Engine, files: readonly FileStats[], target: string, workDir: string): Promise<MergeResult> {
  const rowsRead = files.reduce((sum, f) => sum + f.rows, 0)
  const plan = planMerge(files)
  if (plan.kind === 'sort') {
    await copy(engine, plan.paths, dedupeQuery(plan.paths), target)
  } else {
    const sources: string[] = []
    for (const unit of plan.units) {
      if (unit.kind === 'file') {
        sources.push(unit.path)
        continue
      }
      const scratch = join(workDir, tempName(`dedupe-${sources.length}.parquet`))
      await copy(engine, unit.paths, dedupeQuery(unit.paths), scratch)
      sources.push(scratch)
    }
    // The multi-file reader keeps the list's order (insertion order is preserved by default).
    await copy(engine, sources, `SELECT ${COLUMNS} FROM ${source(sources)}`, target)
  }
  const counted = await dataQuery(engine, [target], `SELECT count(*) AS n FROM read_parquet(${sqlString(target)})`)
  return { rowsRead, rowsWritten: Number(counted[0]!.n), plan: plan.kind }
}

// DISTINCT ON's ORDER BY only picks which copy stays; the outer ORDER BY sorts the result.
function dedupeQuery (paths: readonly string[]): string {
  return `SELECT * FROM (SELECT DISTINCT ON (${KEY}) * FROM (SELECT ${COLUMNS} FROM ${source(paths)}) ORDER BY ${ORDER}) ORDER BY ${KEY}`
}

function source (paths: readonly string[]): string {
  return `read_parquet(${sqlList(paths)}, hive_partitioning = false)`
}

async function copy (engine: Engine, inputs: readonly string[], query: string, target: string): Promise<void> {
  await dataQuery(engine, inputs, `COPY (${query}) TO ${sqlString(target)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`)
}

/** Runs a query over archive files; a file DuckDB cannot read becomes a DataError naming it. */
export async function dataQuery (engine: Engine, inputs: readonly string[], sql: string): Promise<Array<Record<string, unknown>>> {
  return withDataErrors(inputs, async () => (await engine.connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>)
}

/** Like dataQuery, the result as one array per column. */
export async function dataColumns (engine: Engine, inputs: readonly string[], sql: string): Promise<Record<string, unknown[]>> {
  return withDataErrors(inputs, async () => (await engine.connection.runAndReadAll(sql)).getColumnsObjectJS() as Record<string, unknown[]>)
}

async function withDataErrors<T> (inputs: readonly string[], run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    const message = errorMessage(error).split('\n')[0]!
    const named = inputs.find(path => message.includes(path))
    throw new DataError(named === undefined
      ? `cannot read the hour's archive files: ${message}`
      : `${named} is missing or not a readable archive file: ${message}`, error)
  }
}
