// Which of a partition's files compaction ahead encodes together into one piece (ahead.ts):
// runs of files in offset order, cut where DuckDB's row groups will end.
import { CHUNK_ROWS, ROW_GROUP_ROWS } from './merge.ts'
import { compare, compareBig, type FileStats } from './plan.ts'

/**
 * Splits a partition's small files into the runs to encode now. A run is files in offset order
 * that no bound's offsets fall among. A run ends once it holds `openRows` and its last row group
 * (as DuckDB will cut them) is empty or at least half full, and never between two files that
 * overlap; what is left waits for more files. Once the hour has closed (`closedRows` given),
 * what is left becomes a run too if it holds `closedRows`.
 */
export function cutRuns(
  files: readonly FileStats[],
  bounds: readonly FileStats[],
  closedRows: number | undefined,
  openRows: number
): FileStats[][] {
  const sorted = [...files].sort((a, b) => compareBig(a.offsetMin!, b.offsetMin!) || compare(a.path, b.path))
  const blocked = (from: bigint, to: bigint): boolean => bounds.some(b => b.offsetMin! <= to && from <= b.offsetMax!)
  const runs: FileStats[][] = []
  let run: FileStats[] = []
  let rows = 0
  let groupRows = 0
  let end = 0n
  // (A run of less than one row group, with thresholds that small, is one row group anyway.)
  const ready = (): boolean =>
    rows >= openRows && (groupRows === 0 || 2 * groupRows >= ROW_GROUP_ROWS || rows < ROW_GROUP_ROWS)
  const close = (keep: boolean): void => {
    if (keep) runs.push(run)
    run = []
    rows = 0
    groupRows = 0
  }
  const worthAPiece = (): boolean => ready() || (closedRows !== undefined && rows >= closedRows)
  for (const file of sorted) {
    if (run.length > 0 && ready() && file.offsetMin! > end) close(true)
    if (blocked(file.offsetMin!, file.offsetMax!)) {
      close(worthAPiece())
      continue
    }
    if (run.length > 0 && blocked(run[0]!.offsetMin!, file.offsetMax!)) close(worthAPiece())
    end = run.length === 0 || file.offsetMax! > end ? file.offsetMax! : end
    run.push(file)
    rows += file.rows
    groupRows = afterFile(groupRows, file.rows)
  }
  if (run.length > 0) close(worthAPiece())
  return runs
}

// DuckDB reads a file in chunks of at most CHUNK_ROWS rows and ends a row group at the first
// chunk that brings it to ROW_GROUP_ROWS: the rows in the open row group after one more file.
function afterFile(groupRows: number, fileRows: number): number {
  let open = groupRows
  for (let left = fileRows; left > 0;) {
    const chunk = Math.min(left, CHUNK_ROWS)
    left -= chunk
    open += chunk
    if (open >= ROW_GROUP_ROWS) open = 0
  }
  return open
}
