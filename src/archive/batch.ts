// Archive rows waiting for the next commit's files, held as columns of numbers in fixed-size
// blocks: texts become indices into a dictionary that every batch of the archive shares, times
// become seconds into the row's hour and offsets the distance from the group's first one, so
// all but the byte count and the quota fit 32 bits. A row takes 40 bytes and no JavaScript object, and blocks are
// handed back to a pool once their rows are written: the memory a commit's rows take is reused
// by the next commit instead of waiting for a garbage collection (docs/memory.md).
import { hourStart } from './layout.ts'

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

/** Rows per block, and per data chunk loaded into DuckDB (its vector size). */
export const BLOCK_ROWS = 2048
/** The 64-bit columns of a block, doubles holding whole numbers below 2^53 (a null quota: NaN). */
export const DOUBLE_COLUMNS = ['bytes', 'quota'] as const
/** The 32-bit columns of a block, in this order after the doubles; texts are dictionary indices (-1: null). */
export const INT_COLUMNS = ['second', 'app', 'id', 'antenna_id', 'email', 'offset'] as const
const [SECOND, APP, ID, ANTENNA, EMAIL, OFFSET] = INT_COLUMNS.map((_, c) => c * BLOCK_ROWS) as [
  number,
  number,
  number,
  number,
  number,
  number
]
const QUOTA = BLOCK_ROWS

/** One block of rows: each double column, then each 32-bit column, in turn. */
export class Block {
  readonly doubles: Float64Array
  readonly ints: Int32Array

  constructor() {
    const buffer = new ArrayBuffer(BLOCK_ROWS * (8 * DOUBLE_COLUMNS.length + 4 * INT_COLUMNS.length))
    this.doubles = new Float64Array(buffer, 0, BLOCK_ROWS * DOUBLE_COLUMNS.length)
    this.ints = new Int32Array(buffer, BLOCK_ROWS * 8 * DOUBLE_COLUMNS.length, BLOCK_ROWS * INT_COLUMNS.length)
  }

  /** Column `c` of DOUBLE_COLUMNS, rows 0 to `rows`. */
  double(c: number, rows: number): Float64Array {
    return this.doubles.subarray(c * BLOCK_ROWS, c * BLOCK_ROWS + rows)
  }

  /** Column `c` of INT_COLUMNS, rows 0 to `rows`. */
  int(c: number, rows: number): Int32Array {
    return this.ints.subarray(c * BLOCK_ROWS, c * BLOCK_ROWS + rows)
  }
}

/** Blocks whose rows were written, kept for the next batches, up to a bound. */
export class BlockPool {
  readonly #free: Block[] = []
  readonly #maxBlocks: number

  constructor(maxBlocks: number) {
    this.#maxBlocks = maxBlocks
  }

  take(): Block {
    return this.#free.pop() ?? new Block()
  }

  give(blocks: Block[]): void {
    for (const block of blocks) if (this.#free.length < this.#maxBlocks) this.#free.push(block)
  }

  get size(): number {
    return this.#free.length
  }
}

/** The rows of one file: a topic partition's rows of one hour in one batch. */
export class Group {
  readonly hour: number
  readonly topic: string
  readonly partition: number
  readonly blocks: Block[] = []
  rows = 0
  /** The first row's offset: the others are stored as their distance from it. */
  base = 0
  first = 0
  last = 0
  /** Offsets strictly increasing, as a partition's records arrive: no sort or dedupe needed. */
  ordered = true

  constructor(hour: number, topic: string, partition: number) {
    this.hour = hour
    this.topic = topic
    this.partition = partition
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
  indexOf(text: string): number {
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

interface PartitionGroups {
  topic: string
  partition: number
  latest: Group
  byHour: Map<number, Group>
}

/** Rows waiting to be written, grouped by the file they go to. */
export class ArchiveBatch {
  readonly dictionary: TextDictionary
  readonly #pool: BlockPool
  /** Groups by topic, then partition, then hour; `latest` is the group a partition used last. */
  readonly #partitions = new Map<string, Map<number, PartitionGroups>>()
  /** The partition of the last row: a sink's rows mostly come from one partition. */
  #last: PartitionGroups | undefined
  #size = 0

  constructor(dictionary = new TextDictionary(), pool = new BlockPool(0)) {
    this.dictionary = dictionary
    this.#pool = pool
  }

  static of(rows: Iterable<ArchiveRow>): ArchiveBatch {
    const batch = new ArchiveBatch()
    for (const row of rows) batch.add(row, row)
    return batch
  }

  get size(): number {
    return this.#size
  }

  /**
   * Adds a row, or refuses it (the reason returned, nothing added) when Parquet could not hold
   * its values as they are: a text with an unpaired surrogate (DuckDB would silently replace
   * it), a number that is not a whole number below 2^53.
   */
  add(event: ArchiveEvent, at: ArchiveCoordinates): string | undefined {
    const dictionary = this.dictionary
    const app = dictionary.indexOf(event.app)
    const id = dictionary.indexOf(event.id)
    const antenna = dictionary.indexOf(event.antenna_id)
    const email = event.email === null ? -1 : dictionary.indexOf(event.email)
    if (app === NOT_TEXT || id === NOT_TEXT || antenna === NOT_TEXT || email === NOT_TEXT)
      return 'a text holds an unpaired surrogate, which UTF-8 cannot encode'
    const offset = Number(at.offset)
    if (
      !Number.isSafeInteger(event.bytes) ||
      !Number.isSafeInteger(event.timestamp) ||
      !(event.quota === null || Number.isSafeInteger(event.quota)) ||
      !Number.isSafeInteger(offset)
    ) {
      return `a number is not a whole number below 2^53 (bytes ${event.bytes}, timestamp ${event.timestamp}, quota ${event.quota}, offset ${at.offset})`
    }
    const hour = hourStart(event.timestamp)
    const group = this.#group(hour, at)
    if (group.rows === 0) {
      group.base = group.first = group.last = offset
    } else if (offset > group.last) {
      group.last = offset
    } else {
      group.ordered = false
      if (offset < group.first) group.first = offset
    }
    const row = group.rows++ % BLOCK_ROWS
    if (row === 0) group.blocks.push(this.#pool.take())
    const block = group.blocks[group.blocks.length - 1]!
    const ints = block.ints
    block.doubles[row] = event.bytes
    block.doubles[QUOTA + row] = event.quota ?? NaN
    ints[SECOND + row] = event.timestamp - hour
    ints[APP + row] = app
    ints[ID + row] = id
    ints[ANTENNA + row] = antenna
    ints[EMAIL + row] = email
    // A commit's offsets of one partition span far less than 2^31.
    ints[OFFSET + row] = offset - group.base
    this.#size++
    return undefined
  }

  groups(): Group[] {
    return [...this.#partitions.values()].flatMap(partitions =>
      [...partitions.values()].flatMap(p => [...p.byHour.values()])
    )
  }

  /** Hands the blocks back to the pool: the batch is written (or given up) and holds no rows after this. */
  release(): void {
    for (const group of this.groups()) this.#pool.give(group.blocks.splice(0))
    this.#partitions.clear()
    this.#last = undefined
    this.#size = 0
  }

  #group(hour: number, at: ArchiveCoordinates): Group {
    let partition = this.#last
    if (partition === undefined || partition.partition !== at.partition || partition.topic !== at.topic) {
      let partitions = this.#partitions.get(at.topic)
      if (partitions === undefined) this.#partitions.set(at.topic, (partitions = new Map()))
      partition = partitions.get(at.partition)
      if (partition === undefined) {
        const group = new Group(hour, at.topic, at.partition)
        partitions.set(
          at.partition,
          (partition = { topic: at.topic, partition: at.partition, latest: group, byHour: new Map([[hour, group]]) })
        )
      }
      this.#last = partition
    }
    if (partition.latest.hour === hour) return partition.latest
    let group = partition.byHour.get(hour)
    if (group === undefined) partition.byHour.set(hour, (group = new Group(hour, at.topic, at.partition)))
    partition.latest = group
    return group
  }
}
