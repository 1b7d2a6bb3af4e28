// Window stores are key-value stores whose key bytes are the window start (epoch
// milliseconds, 8 bytes big-endian) followed by the key's bytes, so that byte order is
// window-start order and the windows that closed form a prefix of the store.
import { int64BinaryString, readInt64, writeInt64, type Serde } from '../lib/serdes.ts'
import { type ChangeRecord, type KeyValueStore, type WindowEntry, type WindowStore } from './types.ts'

export interface Windowed<K> {
  /** Window start, epoch milliseconds. */
  start: number
  key: K
}

const START_BYTES = 8

export function windowedSerde<K>(keySerde: Serde<K>): Serde<Windowed<K>> {
  const serde: Serde<Windowed<K>> = {
    serialize: ({ start, key }) => {
      const keyBytes = keySerde.serialize(key)
      const bytes = Buffer.allocUnsafe(START_BYTES + keyBytes.length)
      writeStart(bytes, start)
      keyBytes.copy(bytes, START_BYTES)
      return bytes
    },
    deserialize: bytes => ({ start: readInt64(bytes, 0), key: keySerde.deserialize(bytes.subarray(START_BYTES)) })
  }
  const keyString = keySerde.toBinaryString
  if (keyString !== undefined) {
    serde.toBinaryString = ({ start, key }) => {
      checkStart(start)
      return int64BinaryString(start) + keyString(key)
    }
  }
  return serde
}

/** The key bytes of every entry of windows starting at `start` begin with these. */
export function windowPrefix(start: number): Buffer {
  const bytes = Buffer.allocUnsafe(START_BYTES)
  writeStart(bytes, start)
  return bytes
}

function writeStart(bytes: Buffer, start: number): void {
  checkStart(start)
  writeInt64(bytes, 0, start)
}

function checkStart(start: number): void {
  // Negative starts would sort after positive ones.
  if (!Number.isSafeInteger(start) || start < 0)
    throw new RangeError(`a window start must be a non-negative whole number of milliseconds, got ${start}`)
}

export class TimeWindowStore<K, V> implements WindowStore<K, V> {
  readonly inner: KeyValueStore<Windowed<K>, V>

  constructor(inner: KeyValueStore<Windowed<K>, V>) {
    this.inner = inner
  }

  get name(): string {
    return this.inner.name
  }
  get dir(): string | undefined {
    return this.inner.dir
  }
  get isOpen(): boolean {
    return this.inner.isOpen
  }
  get size(): number {
    return this.inner.size
  }

  get(start: number, key: K): V | undefined {
    return this.inner.get({ start, key })
  }
  put(start: number, key: K, value: V): void {
    this.inner.put({ start, key }, value)
  }
  delete(start: number, key: K): boolean {
    return this.inner.delete({ start, key })
  }

  entries(): IterableIterator<WindowEntry<K, V>> {
    return toEntries(this.inner.entries())
  }

  windowsUpTo(endExclusive: number): IterableIterator<WindowEntry<K, V>> {
    if (endExclusive <= 0) return toEntries([])
    return toEntries(this.inner.keyRange(undefined, windowPrefix(Math.min(endExclusive, Number.MAX_SAFE_INTEGER))))
  }

  takeWindowsUpTo(endExclusive: number): WindowEntry<K, V>[] {
    const taken = [...this.windowsUpTo(endExclusive)]
    for (const entry of taken) this.inner.delete({ start: entry.start, key: entry.key })
    return taken
  }

  open(): Promise<void> {
    return this.inner.open()
  }
  flush(): Promise<void> {
    return this.inner.flush()
  }
  close(): Promise<void> {
    return this.inner.close()
  }
  wipe(): Promise<void> {
    return this.inner.wipe()
  }
  restore(records: readonly ChangeRecord[]): Promise<void> {
    return this.inner.restore(records)
  }
}

function* toEntries<K, V>(entries: Iterable<[Windowed<K>, V]>): IterableIterator<WindowEntry<K, V>> {
  for (const [{ start, key }, value] of entries) yield { start, key, value }
}
