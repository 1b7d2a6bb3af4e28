// How to merge an hour's files into one file sorted by (topic, partition, offset) without
// sorting or deduplicating every row. A writer's file holds one partition, in offset order,
// without duplicates, so files whose offset ranges do not overlap are already in order once
// listed by (topic, partition, first offset); only overlapping files (a rewrite after a crash)
// can share a record, and only those need deduplicating. Anything else (a compacted file that
// spans partitions, plus late files) takes the general path: one sort with deduplication.

export interface FileStats {
  path: string
  rows: number
  topicMin: string | null
  topicMax: string | null
  partitionMin: number | null
  partitionMax: number | null
  offsetMin: bigint | null
  offsetMax: bigint | null
}

/** In output order: a file as it is, or a group of overlapping files to deduplicate. */
export type MergeUnit = { kind: 'file'; path: string } | { kind: 'dedupe'; paths: string[] }

export type MergePlan = { kind: 'ordered'; units: MergeUnit[] } | { kind: 'sort'; paths: string[] }

export function planMerge(files: readonly FileStats[]): MergePlan {
  const nonEmpty = files.filter(f => f.rows > 0)
  if (!nonEmpty.every(isSimple)) return { kind: 'sort', paths: nonEmpty.map(f => f.path) }
  const sorted = [...nonEmpty].sort(
    (a, b) =>
      compare(a.topicMin!, b.topicMin!) ||
      a.partitionMin! - b.partitionMin! ||
      compareBig(a.offsetMin!, b.offsetMin!) ||
      compare(a.path, b.path)
  )
  const units: MergeUnit[] = []
  let group: FileStats[] = []
  let groupEnd = 0n
  const close = (): void => {
    if (group.length === 1) units.push({ kind: 'file', path: group[0]!.path })
    if (group.length > 1) units.push({ kind: 'dedupe', paths: group.map(f => f.path) })
    group = []
  }
  for (const file of sorted) {
    const previous = group[0]
    const sameSeries =
      previous !== undefined && previous.topicMin === file.topicMin && previous.partitionMin === file.partitionMin
    if (!sameSeries || file.offsetMin! > groupEnd) close()
    group.push(file)
    groupEnd = group.length === 1 || file.offsetMax! > groupEnd ? file.offsetMax! : groupEnd
  }
  close()
  return { kind: 'ordered', units }
}

/** A file with rows, all of one partition, with offset stats: a writer's file, or a piece of one partition. */
export function isSimple(f: FileStats): boolean {
  return (
    f.rows > 0 &&
    f.topicMin !== null &&
    f.topicMin === f.topicMax &&
    f.partitionMin !== null &&
    f.partitionMin === f.partitionMax &&
    f.offsetMin !== null &&
    f.offsetMax !== null
  )
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0
}
