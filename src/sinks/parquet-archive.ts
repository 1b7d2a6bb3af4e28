// The raw archive writer of the speed layer: buffers rows in memory by (event hour, topic,
// partition) and, at each commit, writes one Parquet file per group with DuckDB: appended to an
// in-memory table, copied to a hidden temp file in the hour's current version, flushed to disk,
// then renamed to its final name. A crash leaves at most a temp file no reader counts; a replay
// of the same records rewrites the same name. Several writers may share the hour folders as
// long as each owns its partitions.
import { join } from 'node:path'
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api'
import {
  ARCHIVE_TABLE_COLUMNS, hourStart, partFileName, tempName, versionDir
} from './archive-layout.ts'
import { currentVersion, ensureHourVersion, publishFile, settleFile } from './archive-versions.ts'
import { sqlString } from './sql.ts'

/** One valid event with its user's metadata (null when unknown) and its Kafka coordinates. */
export interface ArchiveRow {
  bytes: number
  /** Event time, epoch seconds. */
  timestamp: number
  app: string
  id: string
  antenna_id: string
  email: string | null
  quota: number | null
  topic: string
  partition: number
  offset: bigint | number
}

export interface ArchiveFile { path: string, hour: number, rows: number }

interface Group { hour: number, topic: string, partition: number, rows: ArchiveRow[] }

const TABLE = 'archive_buffer'
// A writer that loses the race with a compaction (the version it resolved was swapped and
// removed) resolves the hour again; more than a few losses in a row means something else.
const MAX_ATTEMPTS = 5

export class ParquetArchive {
  readonly archiveDir: string
  readonly #groups = new Map<string, Group>()
  #connection: Promise<{ instance: DuckDBInstance, connection: DuckDBConnection }> | undefined
  #buffered = 0

  constructor (archiveDir: string) {
    this.archiveDir = archiveDir
  }

  /** Rows waiting for the next flush. */
  get buffered (): number {
    return this.#buffered
  }

  add (rows: Iterable<ArchiveRow>): void {
    for (const row of rows) {
      const hour = hourStart(row.timestamp)
      const key = `${hour}/${row.topic}/${row.partition}`
      let group = this.#groups.get(key)
      if (group === undefined) this.#groups.set(key, group = { hour, topic: row.topic, partition: row.partition, rows: [] })
      group.rows.push(row)
      this.#buffered++
    }
  }

  /** Writes every buffered group to its file, durably, and empties the buffer. */
  async flush (): Promise<ArchiveFile[]> {
    const written: ArchiveFile[] = []
    for (const [key, group] of this.#groups) {
      written.push(await this.#write(group))
      this.#groups.delete(key)
      this.#buffered -= group.rows.length
    }
    return written
  }

  async close (): Promise<void> {
    if (this.#connection === undefined) return
    const { instance, connection } = await this.#connection
    this.#connection = undefined
    connection.closeSync()
    instance.closeSync()
  }

  async #write (group: Group): Promise<ArchiveFile> {
    const rows = inOffsetOrder(group.rows)
    const first = BigInt(rows[0]!.offset)
    const last = BigInt(rows[rows.length - 1]!.offset)
    const name = partFileName(group.topic, group.partition, first, last)
    const { connection } = await this.#open()
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${TABLE} (${ARCHIVE_TABLE_COLUMNS})`)
    const appender = await connection.createAppender(TABLE)
    try {
      for (const row of rows) appendRow(appender, row)
    } finally {
      appender.closeSync()
    }
    for (let attempt = 1; ; attempt++) {
      const version = await ensureHourVersion(this.archiveDir, group.hour)
      const dir = versionDir(this.archiveDir, group.hour, version)
      const temp = join(dir, tempName(name))
      try {
        await connection.run(`COPY ${TABLE} TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION zstd)`)
        await publishFile(temp, join(dir, name))
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && await versionChanged(this.archiveDir, group.hour, version)) continue
        throw error
      }
      await settleFile(this.archiveDir, group.hour, version, name)
      await connection.run(`DROP TABLE ${TABLE}`)
      return { path: join(dir, name), hour: group.hour, rows: rows.length }
    }
  }

  #open (): Promise<{ instance: DuckDBInstance, connection: DuckDBConnection }> {
    this.#connection ??= (async () => {
      // One thread: a writer runs inside the stream processor, beside the other tasks.
      const instance = await DuckDBInstance.create(':memory:', { threads: '1' })
      return { instance, connection: await instance.connect() }
    })()
    return this.#connection
  }
}

async function versionChanged (archiveDir: string, hour: number, version: number): Promise<boolean> {
  return await currentVersion(archiveDir, hour).catch(() => version) !== version
}

/**
 * Rows sorted by offset, each offset once: a partition's records arrive in order, so this is
 * usually a check; files then never hold a duplicate and their name range is exact.
 */
function inOffsetOrder (rows: ArchiveRow[]): ArchiveRow[] {
  let sorted = true
  for (let i = 1; i < rows.length && sorted; i++) sorted = rows[i - 1]!.offset < rows[i]!.offset
  if (sorted) return rows
  const copy = [...rows].sort((a, b) => a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0)
  return copy.filter((row, i) => i === 0 || copy[i - 1]!.offset !== row.offset)
}

function appendRow (appender: DuckDBAppender, row: ArchiveRow): void {
  appender.appendBigInt(BigInt(row.bytes))
  appender.appendBigInt(BigInt(row.timestamp))
  appender.appendVarchar(row.app)
  appender.appendVarchar(row.id)
  appender.appendVarchar(row.antenna_id)
  if (row.email === null) appender.appendNull()
  else appender.appendVarchar(row.email)
  if (row.quota === null) appender.appendNull()
  else appender.appendBigInt(BigInt(row.quota))
  appender.appendVarchar(row.topic)
  appender.appendInteger(row.partition)
  appender.appendBigInt(BigInt(row.offset))
  appender.endRow()
}
