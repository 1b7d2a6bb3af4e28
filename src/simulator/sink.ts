// Where simulated records go: a Kafka topic or a record file. Writing is synchronous and
// buffered; a sink hands back a promise only when the caller must wait for it to drain, so
// the hot loop allocates no promise per record.
import { type FileHandle, open } from 'node:fs/promises'
import { DataError, errorMessage } from '../lib/errors.ts'
import { type EventEncoder } from './event-json.ts'
import { encodeLine } from './record-file.ts'
import { type SimRecord } from './traffic.ts'

export interface RecordSink {
  /** Queues a record; returns a promise only when the caller must wait before the next one. */
  write(record: SimRecord): Promise<void> | undefined
  /** Sends or writes everything queued so far. */
  flush(): Promise<void>
  close(): Promise<void>
}

const CHUNK_BYTES = 1 << 20

/** A file written in large chunks: one being filled, at most one more being written. */
export class BufferedFile {
  readonly path: string
  #handle: FileHandle | undefined
  #chunk = Buffer.allocUnsafe(CHUNK_BYTES)
  #at = 0
  #writing: Promise<void> | undefined

  constructor(path: string) {
    this.path = path
  }

  async open(): Promise<this> {
    try {
      this.#handle = await open(this.path, 'w')
    } catch (error) {
      throw new DataError(`cannot write ${this.path}: ${errorMessage(error)}`, error)
    }
    return this
  }

  /** The chunk being filled and the offset to write at; `room` first. */
  get chunk(): Buffer {
    return this.#chunk
  }
  get position(): number {
    return this.#at
  }
  set position(at: number) {
    this.#at = at
  }

  /** Makes room for `bytes` at `position`; returns a promise when the caller must wait first. */
  room(bytes: number): Promise<void> | undefined {
    if (this.#at + bytes <= this.#chunk.length) return undefined
    const waiting = this.#writing
    if (waiting !== undefined) return waiting.then(() => this.room(bytes))
    this.#startWrite(Math.max(CHUNK_BYTES, bytes))
    return undefined
  }

  append(text: string): Promise<void> | undefined {
    const waiting = this.room(text.length * 3)
    if (waiting !== undefined) return waiting.then(() => this.append(text))
    this.#at += this.#chunk.write(text, this.#at, 'utf8')
    return undefined
  }

  async flush(): Promise<void> {
    await this.#writing
    if (this.#at > 0) this.#startWrite(CHUNK_BYTES)
    await this.#writing
  }

  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      await this.#handle?.close()
      this.#handle = undefined
    }
  }

  #startWrite(nextSize: number): void {
    const handle = this.#handle
    if (handle === undefined) throw new Error(`${this.path} is not open`)
    const data = this.#chunk.subarray(0, this.#at)
    this.#chunk = Buffer.allocUnsafe(nextSize)
    this.#at = 0
    const writing = handle.write(data).then(() => {
      if (this.#writing === writing) this.#writing = undefined
    })
    // A failed write surfaces at the next room or flush, not as an unhandled rejection.
    writing.catch(() => {})
    this.#writing = writing
  }
}

/** Writes records to a record file (see record-file.ts for the line format). */
export class FileSink implements RecordSink {
  readonly #file: BufferedFile
  readonly #encoder: EventEncoder

  constructor(file: BufferedFile, encoder: EventEncoder) {
    this.#file = file
    this.#encoder = encoder
  }

  static async open(path: string, encoder: EventEncoder): Promise<FileSink> {
    return new FileSink(await new BufferedFile(path).open(), encoder)
  }

  write(record: SimRecord): Promise<void> | undefined {
    if (record.badPayload !== undefined) return this.#file.append(encodeLine(record.badPayload) + '\n')
    const file = this.#file
    const waiting = file.room(this.#encoder.maxBytes(record) + 1)
    if (waiting !== undefined) return waiting.then(() => this.write(record))
    const end = this.#encoder.write(record, file.chunk, file.position)
    file.chunk[end] = 0x0a
    file.position = end + 1
    return undefined
  }

  flush(): Promise<void> {
    return this.#file.flush()
  }

  close(): Promise<void> {
    return this.#file.close()
  }
}
