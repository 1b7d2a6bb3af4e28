// The raw archive writer of the speed layer. Rows are buffered in an ArchiveBatch by (event
// hour, topic, partition), as columns of numbers, texts replaced by their index in a
// dictionary that the archive's batches share; at each commit ParquetArchive writes each group
// as one Parquet file with DuckDB: the columns go into a table a vector at a time (one copy per
// column per 2,048 rows, where an appender would take a native call per value), the texts new
// since the last write go into DuckDB's copy of the dictionary, and DuckDB, on its own thread,
// puts the texts back and writes the file to a hidden temp name in the hour's current
// version, flushed to disk, then renamed to its final name. A crash leaves at most a temp file
// no reader counts; a replay of the same records rewrites the same name. Several writers may
// share the hour folders as long as each owns its partitions.
import { DuckDBDataChunk, DuckDBDoubleType, DuckDBInstance, type DuckDBConnection, type DuckDBDoubleVector } from '@duckdb/node-api'
import { join } from 'node:path'
import { ARCHIVE_COLUMNS, hourStart, partFileName, tempName, versionDir } from './archive-layout.ts'
import { currentVersion, ensureHourVersion, publishFile, settleFile } from './archive-versions.ts'
import { sqlString } from './sql.ts'

/** The values of one archived event: a valid event with its user's metadata (null when unknown). */
export interface ArchiveEvent {
  bytes: number
  /** Event time, epoch seconds. */
  timestamp: number
  app: string
  id: string
  antenna_id: string
  email: string | null
  quota: number | null
}

/** Where the event was read: its Kafka coordinates. */
export interface ArchiveCoordinates {
  topic: string
  partition: number
  offset: bigint | number
}

export type ArchiveRow = ArchiveEvent & ArchiveCoordinates

export interface ArchiveFile { path: string, hour: number, rows: number }

// The buffered columns; texts are dictionary indices (-1: null), a null quota is NaN. Every
// value is a double: byte counts, times and offsets stay far below 2^53, and one array type
// serves every column.
const COLUMNS = ['bytes', 'timestamp', 'app', 'id', 'antenna_id', 'email', 'quota', 'offset'] as const
/** Rows per block of a group, and per data chunk loaded into DuckDB (its vector size). */
const CHUNK_ROWS = 2048
/** Where a column starts inside a block. */
const at = (column: typeof COLUMNS[number]): number => COLUMNS.indexOf(column) * CHUNK_ROWS
const [BYTES, TIMESTAMP, APP, ID, ANTENNA, EMAIL, QUOTA, OFFSET] = COLUMNS.map(at) as [number, number, number, number, number, number, number, number]

class Group {
  readonly hour: number
  readonly topic: string
  readonly partition: number
  /** The rows, CHUNK_ROWS per block, column after column: blocks are added, never copied. */
  readonly blocks: Float64Array[] = []
  rows = 0
  first = 0
  last = 0
  /** Offsets strictly increasing, as a partition's records arrive: no sort or dedupe needed. */
  ordered = true

  constructor (hour: number, topic: string, partition: number) {
    this.hour = hour
    this.topic = topic
    this.partition = partition
  }

  /** The block of the next row; the row's place in it is `(rows - 1) % CHUNK_ROWS` after the call. */
  next (): Float64Array {
    const slot = this.rows++ % CHUNK_ROWS
    if (slot === 0) this.blocks.push(new Float64Array(COLUMNS.length * CHUNK_ROWS))
    return this.blocks[this.blocks.length - 1]!
  }
}

/**
 * Texts and their indices, only ever appended to. Ids, apps and emails repeat from one commit
 * to the next, so sharing one dictionary across batches sends each text to DuckDB about once.
 */
export class TextDictionary {
  readonly texts: string[] = []
  readonly #index = new Map<string, number>()

  /** The text's index, or NOT_TEXT for a string UTF-8 cannot hold (checked once per text). */
  indexOf (text: string): number {
    let index = this.#index.get(text)
    if (index === undefined) {
      if (!text.isWellFormed()) return NOT_TEXT
      index = this.texts.push(text) - 1
      this.#index.set(text, index)
    }
    return index
  }
}

/** What TextDictionary.indexOf returns for a string with an unpaired surrogate. */
const NOT_TEXT = -2

interface PartitionGroups { topic: string, partition: number, latest: Group, byHour: Map<number, Group> }

/** Rows waiting to be written, grouped by the file they go to. */
export class ArchiveBatch {
  readonly dictionary: TextDictionary
  /** Groups by topic, then partition, then hour; `latest` is the group a partition used last. */
  readonly #partitions = new Map<string, Map<number, PartitionGroups>>()
  /** The partition of the last row: a sink's rows mostly come from one partition. */
  #last: PartitionGroups | undefined
  #size = 0

  constructor (dictionary = new TextDictionary()) {
    this.dictionary = dictionary
  }

  static of (rows: Iterable<ArchiveRow>): ArchiveBatch {
    const batch = new ArchiveBatch()
    for (const row of rows) batch.add(row, row)
    return batch
  }

  get size (): number {
    return this.#size
  }

  /**
   * Adds a row, or refuses it (the reason returned, nothing added) when Parquet could not hold
   * its values as they are: a text with an unpaired surrogate (DuckDB would silently replace
   * it), a number that is not a whole number below 2^53.
   */
  add (event: ArchiveEvent, at: ArchiveCoordinates): string | undefined {
    const dictionary = this.dictionary
    const app = dictionary.indexOf(event.app)
    const id = dictionary.indexOf(event.id)
    const antenna = dictionary.indexOf(event.antenna_id)
    const email = event.email === null ? -1 : dictionary.indexOf(event.email)
    if (app === NOT_TEXT || id === NOT_TEXT || antenna === NOT_TEXT || email === NOT_TEXT) return 'a text holds an unpaired surrogate, which UTF-8 cannot encode'
    const offset = Number(at.offset)
    if (!Number.isSafeInteger(event.bytes) || !Number.isSafeInteger(event.timestamp) || !(event.quota === null || Number.isSafeInteger(event.quota)) || !Number.isSafeInteger(offset)) {
      return `a number is not a whole number below 2^53 (bytes ${event.bytes}, timestamp ${event.timestamp}, quota ${event.quota}, offset ${at.offset})`
    }
    const group = this.#group(hourStart(event.timestamp), at)
    if (group.rows === 0) {
      group.first = group.last = offset
    } else if (offset > group.last) {
      group.last = offset
    } else {
      group.ordered = false
      if (offset < group.first) group.first = offset
    }
    const block = group.next()
    const row = (group.rows - 1) % CHUNK_ROWS
    block[BYTES + row] = event.bytes
    block[TIMESTAMP + row] = event.timestamp
    block[APP + row] = app
    block[ID + row] = id
    block[ANTENNA + row] = antenna
    block[EMAIL + row] = email
    block[QUOTA + row] = event.quota ?? NaN
    block[OFFSET + row] = offset
    this.#size++
    return undefined
  }

  groups (): Group[] {
    return [...this.#partitions.values()].flatMap(partitions => [...partitions.values()].flatMap(p => [...p.byHour.values()]))
  }

  #group (hour: number, at: ArchiveCoordinates): Group {
    let partition = this.#last
    if (partition === undefined || partition.partition !== at.partition || partition.topic !== at.topic) {
      let partitions = this.#partitions.get(at.topic)
      if (partitions === undefined) this.#partitions.set(at.topic, partitions = new Map())
      partition = partitions.get(at.partition)
      if (partition === undefined) {
        const group = new Group(hour, at.topic, at.partition)
        partitions.set(at.partition, partition = { topic: at.topic, partition: at.partition, latest: group, byHour: new Map([[hour, group]]) })
      }
      this.#last = partition
    }
    if (partition.latest.hour === hour) return partition.latest
    let group = partition.byHour.get(hour)
    if (group === undefined) partition.byHour.set(hour, group = new Group(hour, at.topic, at.partition))
    partition.latest = group
    return group
  }
}

const ROWS_TABLE = 'archive_rows'
const TEXTS_TABLE = 'archive_texts'
/**
 * The dictionary as one list for the lookups, made again by each write that adds texts: that
 * costs a pass over the dictionary, far less than appending every text again.
 */
const TEXT_LIST_TABLE = 'archive_text_list'
/**
 * A dictionary this large is left for a new one at the next batch, so memory stays bounded
 * (by this plus one commit's new texts) with millions of users.
 */
const MAX_DICTIONARY_TEXTS = 1 << 16

/** Writes batches as Parquet files into the archive; one DuckDB thread, beside the processing. */
export class ParquetArchive {
  readonly archiveDir: string
  #connection: Promise<{ instance: DuckDBInstance, connection: DuckDBConnection }> | undefined
  /** Writes share the connection's tables, so they run one after another. */
  #writing: Promise<unknown> = Promise.resolve()
  readonly #maxDictionaryTexts: number
  #dictionary = new TextDictionary()
  /** The dictionary DuckDB's texts table holds, and how many of its texts. */
  #loaded: { dictionary: TextDictionary, texts: number } | undefined

  constructor (archiveDir: string, options: { maxDictionaryTexts?: number } = {}) {
    this.archiveDir = archiveDir
    this.#maxDictionaryTexts = options.maxDictionaryTexts ?? MAX_DICTIONARY_TEXTS
  }

  /** A new batch for this archive, on the dictionary its batches share. */
  batch (): ArchiveBatch {
    if (this.#dictionary.texts.length >= this.#maxDictionaryTexts) this.#dictionary = new TextDictionary()
    return new ArchiveBatch(this.#dictionary)
  }

  /** Writes every group of the batch to its file, durably, after the writes called before. */
  async write (batch: ArchiveBatch): Promise<ArchiveFile[]> {
    const written = this.#writing.catch(() => {}).then(async () => await this.#writeBatch(batch))
    this.#writing = written
    return await written
  }

  async #writeBatch (batch: ArchiveBatch): Promise<ArchiveFile[]> {
    const groups = batch.groups()
    if (groups.length === 0) return []
    const { connection } = await this.#open()
    await this.#loadTexts(connection, batch.dictionary)
    const written: ArchiveFile[] = []
    for (const group of groups) written.push(await this.#write(connection, group))
    return written
  }

  /** Brings DuckDB's texts table up to date with `dictionary`: only texts added since the last write. */
  async #loadTexts (connection: DuckDBConnection, dictionary: TextDictionary): Promise<void> {
    const loaded = this.#loaded?.dictionary === dictionary ? this.#loaded : { dictionary, texts: -1 }
    const { texts } = dictionary
    // Sinks keep adding texts while this writes; the batch being written uses none of them.
    const count = texts.length
    if (loaded.texts === count) return
    // Until the table is complete again, the next write starts it over.
    this.#loaded = undefined
    if (loaded.texts < 0) await connection.run(`CREATE OR REPLACE TEMP TABLE ${TEXTS_TABLE} (i INTEGER, text VARCHAR)`)
    const appender = await connection.createAppender(TEXTS_TABLE)
    try {
      for (let i = Math.max(loaded.texts, 0); i < count; i++) {
        appender.appendInteger(i)
        appender.appendVarchar(texts[i]!)
        appender.endRow()
      }
    } finally {
      appender.closeSync()
    }
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${TEXT_LIST_TABLE} AS SELECT list(text ORDER BY i) AS texts FROM ${TEXTS_TABLE}`)
    this.#loaded = { dictionary, texts: count }
  }

  async close (): Promise<void> {
    await this.#writing.catch(() => {})
    if (this.#connection === undefined) return
    const { instance, connection } = await this.#connection
    this.#connection = undefined
    // The texts table goes with the connection; a write after this starts a new one.
    this.#loaded = undefined
    connection.closeSync()
    instance.closeSync()
  }

  async #write (connection: DuckDBConnection, group: Group): Promise<ArchiveFile> {
    const name = partFileName(group.topic, group.partition, BigInt(group.first), BigInt(group.last))
    await fillRows(connection, group)
    const query = rowsQuery(group)
    for (let attempt = 1; ; attempt++) {
      const version = await ensureHourVersion(this.archiveDir, group.hour)
      const dir = versionDir(this.archiveDir, group.hour, version)
      const temp = join(dir, tempName(name))
      try {
        // Snappy, not ZSTD: cheaper for the stream process, and the file only lives until
        // the compactor rewrites the hour.
        await connection.run(`COPY (${query}) TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION snappy)`)
        await publishFile(temp, join(dir, name))
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && await versionChanged(this.archiveDir, group.hour, version)) continue
        throw error
      }
      await settleFile(this.archiveDir, group.hour, version, name)
      return { path: join(dir, name), hour: group.hour, rows: group.rows }
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

/**
 * Loads the group's blocks into the rows table, one data chunk per block. One chunk is filled
 * again and again (the appender copies it), because getting a chunk's vectors costs far more
 * than filling them.
 */
async function fillRows (connection: DuckDBConnection, group: Group): Promise<void> {
  await connection.run(`CREATE OR REPLACE TEMP TABLE ${ROWS_TABLE} (${COLUMNS.map(name => `"${name}" DOUBLE`).join(', ')})`)
  const appender = await connection.createAppender(ROWS_TABLE)
  try {
    let chunk: DuckDBDataChunk | undefined
    let vectors: DuckDBDoubleVector[] = []
    group.blocks.forEach((block, b) => {
      const rows = Math.min(CHUNK_ROWS, group.rows - b * CHUNK_ROWS)
      if (chunk?.rowCount !== rows) {
        chunk = DuckDBDataChunk.create(COLUMNS.map(() => DuckDBDoubleType.instance), rows)
        vectors = COLUMNS.map((_, c) => chunk!.getColumnVector(c) as DuckDBDoubleVector)
      }
      for (let c = 0; c < COLUMNS.length; c++) {
        const vector = vectors[c]!
        const start = c * CHUNK_ROWS
        // setItem writes to the vector's JS-side copy; flush hands it to DuckDB in one call.
        for (let i = 0; i < rows; i++) vector.setItem(i, block[start + i]!)
        vector.flush()
      }
      appender.appendDataChunk(chunk)
    })
  } finally {
    appender.closeSync()
  }
}

// A writer that loses the race with a compaction (the version it resolved was swapped and
// removed) resolves the hour again; more than a few losses in a row means something else.
const MAX_ATTEMPTS = 5

async function versionChanged (archiveDir: string, hour: number, version: number): Promise<boolean> {
  return await currentVersion(archiveDir, hour).catch(() => version) !== version
}

/**
 * The group's rows in the archive's column order, texts restored, sorted by offset, each
 * offset once: a partition's records arrive in order, so duplicates appear only after a
 * replay (the first copy stays), and files never hold one and their name range is exact.
 * Texts are looked up in the dictionary's list, which keeps the rows' order (a join would
 * not, and sorting again costs more than the lookup).
 */
function rowsQuery (group: Group): string {
  const text = (column: string): string => `(SELECT texts FROM ${TEXT_LIST_TABLE})[CAST(r."${column}" AS INTEGER) + 1]`
  const values: Record<(typeof ARCHIVE_COLUMNS)[number][0], string> = {
    bytes: 'CAST(r.bytes AS BIGINT)',
    timestamp: 'CAST(r."timestamp" AS BIGINT)',
    app: text('app'),
    id: text('id'),
    antenna_id: text('antenna_id'),
    email: text('email'),
    quota: 'CASE WHEN isnan(r.quota) THEN NULL ELSE CAST(r.quota AS BIGINT) END',
    topic: sqlString(group.topic),
    partition: `CAST(${group.partition} AS INTEGER)`,
    offset: 'CAST(r."offset" AS BIGINT)'
  }
  const rows = group.ordered ? ROWS_TABLE : `(SELECT DISTINCT ON ("offset") * FROM ${ROWS_TABLE} ORDER BY "offset", rowid)`
  return `SELECT ${ARCHIVE_COLUMNS.map(([name]) => `${values[name]} AS "${name}"`).join(', ')} FROM ${rows} r`
}
