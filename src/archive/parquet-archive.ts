// The raw archive writer of the speed layer. Rows are buffered in an ArchiveBatch by (event
// hour, topic, partition), as columns of numbers, texts replaced by their index in a
// dictionary that the archive's batches share (batch.ts); at each commit ParquetArchive writes each group
// as one Parquet file with DuckDB: the columns go into a table a vector at a time (one copy per
// column per 2,048 rows, where an appender would take a native call per value), the texts new
// since the last write go into DuckDB's copy of the dictionary, and DuckDB, on its own thread,
// puts the texts back and writes the file to a local temp name, which the target publishes
// (targets.ts): renamed into the hour's current version on disk, or uploaded to object storage.
// A crash leaves at most a temp file no reader counts; a replay of the same records rewrites
// the same name. Several writers may share the hours as long as each owns its partitions.
import {
  DuckDBDataChunk,
  DuckDBDoubleType,
  DuckDBInstance,
  DuckDBIntegerType,
  type DuckDBConnection,
  type DuckDBDoubleVector,
  type DuckDBIntegerVector
} from '@duckdb/node-api'
import { ARCHIVE_COLUMNS, partFileName } from './layout.ts'
import {
  ArchiveBatch,
  BLOCK_ROWS,
  BlockPool,
  DOUBLE_COLUMNS,
  INT_COLUMNS,
  TextDictionary,
  type Group
} from './batch.ts'
import { LocalTarget, type ArchiveTarget } from './targets.ts'
import { sqlString } from './sql.ts'

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
/** Blocks kept for reuse: 10 MB, about 260,000 rows; a larger commit allocates the rest anew. */
const POOLED_BLOCKS = 128
/** Rows per row group of a writer file: at 250,000 rows per commit, 16,384 peaked about 25 MB lower than DuckDB's 122,880. */
const WRITER_ROW_GROUP_ROWS = 16_384

export interface ArchiveFile {
  path: string
  hour: number
  rows: number
}

/** Writes batches as Parquet files into the archive; one DuckDB thread, beside the processing. */
export class ParquetArchive {
  readonly target: ArchiveTarget
  #connection: Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> | undefined
  /** Writes share the connection's tables, so they run one after another. */
  #writing: Promise<unknown> = Promise.resolve()
  readonly #maxDictionaryTexts: number
  #dictionary = new TextDictionary()
  readonly #pool: BlockPool
  /** The dictionary DuckDB's texts table holds, and how many of its texts. */
  #loaded: { dictionary: TextDictionary; texts: number } | undefined

  /** `target`: a local archive folder, or where to publish files (targets.ts). */
  constructor(target: string | ArchiveTarget, options: { maxDictionaryTexts?: number; pooledBlocks?: number } = {}) {
    this.target = typeof target === 'string' ? new LocalTarget(target) : target
    this.#maxDictionaryTexts = options.maxDictionaryTexts ?? MAX_DICTIONARY_TEXTS
    this.#pool = new BlockPool(options.pooledBlocks ?? POOLED_BLOCKS)
  }

  /** A new batch for this archive, on the dictionary its batches share. */
  batch(): ArchiveBatch {
    if (this.#dictionary.texts.length >= this.#maxDictionaryTexts) this.#dictionary = new TextDictionary()
    return new ArchiveBatch(this.#dictionary, this.#pool)
  }

  /**
   * Writes every group of the batch to its file, durably, after the writes called before. The
   * batch is empty afterwards, written or not: its blocks go back to the pool.
   */
  async write(batch: ArchiveBatch): Promise<ArchiveFile[]> {
    const written = this.#writing
      .catch(() => {})
      .then(async () => await this.#writeBatch(batch))
      .finally(() => batch.release())
    this.#writing = written
    return await written
  }

  async #writeBatch(batch: ArchiveBatch): Promise<ArchiveFile[]> {
    const groups = batch.groups()
    if (groups.length === 0) return []
    const { connection } = await this.#open()
    await this.#loadTexts(connection, batch.dictionary)
    const written: ArchiveFile[] = []
    for (const group of groups) written.push(await this.#write(connection, group))
    return written
  }

  /** Brings DuckDB's texts table up to date with `dictionary`: only texts added since the last write. */
  async #loadTexts(connection: DuckDBConnection, dictionary: TextDictionary): Promise<void> {
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
    await connection.run(
      `CREATE OR REPLACE TEMP TABLE ${TEXT_LIST_TABLE} AS SELECT list(text ORDER BY i) AS texts FROM ${TEXTS_TABLE}`
    )
    this.#loaded = { dictionary, texts: count }
  }

  async close(): Promise<void> {
    await this.#writing.catch(() => {})
    if (this.#connection === undefined) return
    const { instance, connection } = await this.#connection
    this.#connection = undefined
    // The texts table goes with the connection; a write after this starts a new one.
    this.#loaded = undefined
    connection.closeSync()
    instance.closeSync()
  }

  async #write(connection: DuckDBConnection, group: Group): Promise<ArchiveFile> {
    const name = partFileName(group.topic, group.partition, BigInt(group.first), BigInt(group.last))
    await fillRows(connection, group)
    const query = rowsQuery(group)
    // Snappy, not ZSTD: cheaper for the stream process, and the file only lives until the
    // compactor rewrites the hour. DuckDB holds a row group in memory while it writes it: small
    // ones keep the stream process's memory down (docs/memory.md).
    const path = await this.target.publish(group.hour, name, async temp => {
      await connection.run(
        `COPY (${query}) TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${WRITER_ROW_GROUP_ROWS})`
      )
    })
    return { path, hour: group.hour, rows: group.rows }
  }

  #open(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
    this.#connection ??= (async () => {
      // One thread: a writer runs inside the stream processor, beside the other tasks.
      const instance = await DuckDBInstance.create(':memory:', { threads: '1' })
      return { instance, connection: await instance.connect() }
    })()
    return this.#connection
  }
}

/**
 * Loads the group's blocks into the rows table (the double columns, then the 32-bit ones), one
 * data chunk per block. One chunk is filled again and again (the appender copies it), because
 * getting a chunk's vectors costs far more than filling them.
 */
async function fillRows(connection: DuckDBConnection, group: Group): Promise<void> {
  const columns = [...DOUBLE_COLUMNS.map(name => `"${name}" DOUBLE`), ...INT_COLUMNS.map(name => `"${name}" INTEGER`)]
  await connection.run(`CREATE OR REPLACE TEMP TABLE ${ROWS_TABLE} (${columns.join(', ')})`)
  const appender = await connection.createAppender(ROWS_TABLE)
  try {
    let chunk: DuckDBDataChunk | undefined
    let doubles: DuckDBDoubleVector[] = []
    let ints: DuckDBIntegerVector[] = []
    group.blocks.forEach((block, b) => {
      const rows = Math.min(BLOCK_ROWS, group.rows - b * BLOCK_ROWS)
      if (chunk?.rowCount !== rows) {
        chunk = DuckDBDataChunk.create(
          [
            ...DOUBLE_COLUMNS.map(() => DuckDBDoubleType.instance),
            ...INT_COLUMNS.map(() => DuckDBIntegerType.instance)
          ],
          rows
        )
        doubles = DOUBLE_COLUMNS.map((_, c) => chunk!.getColumnVector(c) as DuckDBDoubleVector)
        ints = INT_COLUMNS.map((_, c) => chunk!.getColumnVector(DOUBLE_COLUMNS.length + c) as DuckDBIntegerVector)
      }
      // setItem writes to the vector's JS-side copy; flush hands it to DuckDB in one call.
      doubles.forEach((vector, c) => {
        const column = block.double(c, rows)
        for (let i = 0; i < rows; i++) vector.setItem(i, column[i]!)
        vector.flush()
      })
      ints.forEach((vector, c) => {
        const column = block.int(c, rows)
        for (let i = 0; i < rows; i++) vector.setItem(i, column[i]!)
        vector.flush()
      })
      appender.appendDataChunk(chunk)
    })
  } finally {
    appender.closeSync()
  }
}

/**
 * The group's rows in the archive's column order, texts restored, sorted by offset, each
 * offset once: a partition's records arrive in order, so duplicates appear only after a
 * replay (the first copy stays), and files never hold one and their name range is exact.
 * Texts are looked up in the dictionary's list, which keeps the rows' order (a join would
 * not, and sorting again costs more than the lookup).
 */
function rowsQuery(group: Group): string {
  const text = (column: string): string => `(SELECT texts FROM ${TEXT_LIST_TABLE})[r."${column}" + 1]`
  const values: Record<(typeof ARCHIVE_COLUMNS)[number][0], string> = {
    bytes: 'CAST(r.bytes AS BIGINT)',
    timestamp: `CAST(r.second AS BIGINT) + ${group.hour}`,
    app: text('app'),
    id: text('id'),
    antenna_id: text('antenna_id'),
    email: text('email'),
    quota: 'CASE WHEN isnan(r.quota) THEN NULL ELSE CAST(r.quota AS BIGINT) END',
    topic: sqlString(group.topic),
    partition: `CAST(${group.partition} AS INTEGER)`,
    offset: `CAST(r."offset" AS BIGINT) + ${group.base}`
  }
  const rows = group.ordered
    ? ROWS_TABLE
    : `(SELECT DISTINCT ON ("offset") * FROM ${ROWS_TABLE} ORDER BY "offset", rowid)`
  return `SELECT ${ARCHIVE_COLUMNS.map(([name]) => `${values[name]} AS "${name}"`).join(', ')} FROM ${rows} r`
}
