// The in-memory table every local store keeps: a Map from the key's bytes (as a latin1
// string, whose code-unit order is the byte order) to the live key and value, plus the set
// of keys changed since the last flush. Values stay deserialized between flushes, so a
// value is serialized once per commit however often it changed, and reads never decode.
import { binaryString, type Serde } from '../lib/serdes.ts'
import { CellstreamError } from '../lib/errors.ts'
import { type ChangeRecord, type LocalStore } from './types.ts'

export interface TableStoreOptions<K, V> {
  name: string
  keySerde: Serde<K>
  valueSerde: Serde<V>
}

interface Slot<K, V> {
  key: K
  value: V
}

export abstract class TableStore<K, V> implements LocalStore<K, V> {
  readonly name: string
  abstract readonly dir: string | undefined
  protected readonly keySerde: Serde<K>
  protected readonly valueSerde: Serde<V>
  protected readonly dirty = new Set<string>()
  private readonly slots = new Map<string, Slot<K, V>>()
  // Ids in byte order, kept until a key is added or removed; updates leave it valid.
  private sorted: string[] | undefined
  private opened = false

  constructor(options: TableStoreOptions<K, V>) {
    this.name = options.name
    this.keySerde = options.keySerde
    this.valueSerde = options.valueSerde
  }

  /** Loads what local storage holds into the table (through `load`). */
  protected abstract openStorage(): Promise<void>
  protected abstract closeStorage(): Promise<void>
  /** Deletes local storage; reopens it empty when `reopen`. */
  protected abstract wipeStorage(reopen: boolean): Promise<void>
  abstract persist(records: readonly ChangeRecord[]): Promise<void>

  get isOpen(): boolean {
    return this.opened
  }

  get size(): number {
    return this.slots.size
  }

  async open(): Promise<void> {
    if (this.opened) return
    await this.openStorage()
    this.opened = true
  }

  get(key: K): V | undefined {
    this.assertOpen()
    return this.slots.get(this.id(key))?.value
  }

  has(key: K): boolean {
    this.assertOpen()
    return this.slots.has(this.id(key))
  }

  put(key: K, value: V): void {
    this.assertOpen()
    const id = this.id(key)
    const slot = this.slots.get(id)
    if (slot === undefined) {
      this.slots.set(id, { key, value })
      this.sorted = undefined
    } else {
      slot.value = value
    }
    this.dirty.add(id)
  }

  delete(key: K): boolean {
    this.assertOpen()
    const id = this.id(key)
    if (!this.slots.delete(id)) return false
    this.sorted = undefined
    this.dirty.add(id)
    return true
  }

  entries(): IterableIterator<[K, V]> {
    this.assertOpen()
    this.sorted ??= [...this.slots.keys()].sort()
    return this.iterate(this.sorted)
  }

  keyRange(from?: Buffer, to?: Buffer): IterableIterator<[K, V]> {
    this.assertOpen()
    const low = from?.toString('latin1')
    const high = to?.toString('latin1')
    if (this.sorted !== undefined || (low === undefined && high === undefined)) {
      this.sorted ??= [...this.slots.keys()].sort()
      const start = low === undefined ? 0 : lowerBound(this.sorted, low)
      const end = high === undefined ? this.sorted.length : lowerBound(this.sorted, high)
      return this.iterate(this.sorted.slice(start, end))
    }
    // Without a sorted index, one pass and a sort of the matches beats sorting everything.
    const ids: string[] = []
    for (const id of this.slots.keys()) {
      if ((low === undefined || id >= low) && (high === undefined || id < high)) ids.push(id)
    }
    return this.iterate(ids.sort())
  }

  async flush(): Promise<void> {
    if (this.dirty.size === 0) return
    const changes = this.takeChanges()
    try {
      await this.persist(changes)
    } catch (error) {
      this.returnChanges(changes)
      throw error
    }
  }

  takeChanges(): ChangeRecord[] {
    const records: ChangeRecord[] = []
    for (const id of this.dirty) {
      const slot = this.slots.get(id)
      records.push({
        key: Buffer.from(id, 'latin1'),
        value: slot === undefined ? null : this.valueSerde.serialize(slot.value)
      })
    }
    this.dirty.clear()
    return records
  }

  returnChanges(records: readonly ChangeRecord[]): void {
    for (const record of records) this.dirty.add(record.key.toString('latin1'))
  }

  async restore(records: readonly ChangeRecord[]): Promise<void> {
    this.assertOpen()
    for (const record of records) {
      const id = record.key.toString('latin1')
      if (record.value === null) {
        if (this.slots.delete(id)) this.sorted = undefined
      } else {
        this.load(id, record.key, record.value)
      }
    }
    await this.persist(records)
  }

  async close(): Promise<void> {
    if (!this.opened) return
    this.opened = false
    this.clearTable()
    await this.closeStorage()
  }

  async wipe(): Promise<void> {
    this.clearTable()
    await this.wipeStorage(this.opened)
  }

  /** Puts an entry read from storage or a changelog into the table, clean. */
  protected load(id: string, key: Buffer, value: Buffer): void {
    const slot = this.slots.get(id)
    if (slot === undefined) {
      this.slots.set(id, { key: this.keySerde.deserialize(key), value: this.valueSerde.deserialize(value) })
      this.sorted = undefined
    } else {
      slot.value = this.valueSerde.deserialize(value)
    }
  }

  protected id(key: K): string {
    return binaryString(this.keySerde, key)
  }

  private clearTable(): void {
    this.slots.clear()
    this.dirty.clear()
    this.sorted = undefined
  }

  private *iterate(ids: readonly string[]): IterableIterator<[K, V]> {
    for (const id of ids) {
      const slot = this.slots.get(id)
      if (slot !== undefined) yield [slot.key, slot.value]
    }
  }

  private assertOpen(): void {
    if (!this.opened) throw new CellstreamError('CS_STORE_CLOSED', `state store ${this.name} is not open`)
  }
}

/** The first index whose id is not below `id`. */
function lowerBound(ids: readonly string[], id: string): number {
  let low = 0
  let high = ids.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (ids[middle]! < id) low = middle + 1
    else high = middle
  }
  return low
}
