// Global tables: each compacted topic is read in full into an in-memory store before
// processing starts, then followed in the background, so every instance joins against the
// whole table. A null value (tombstone) deletes its key. Records that fail to deserialize
// are skipped and reported: a table must not stop the stream.
import { inMemoryStores, type KeyValueStore } from '../stores/index.ts'
import { readToEnd, type Fetcher } from '../kafka/fetcher.ts'
import type { GlobalTableSpec } from '../topology/topology.ts'
import type { RawRecord } from '../lib/records.ts'
import type { TableView } from '../topology/processor.ts'
import { errorMessage } from '../lib/errors.ts'
import { sleep } from '../lib/processes.ts'

interface Table {
  spec: GlobalTableSpec
  store: KeyValueStore<unknown, unknown>
  positions: Map<number, bigint>
}

export class GlobalTables {
  readonly #tables = new Map<string, Table>()
  readonly #fetcher: Fetcher
  readonly #onError: (message: string) => void
  #running = false
  #loop: Promise<void> | undefined
  /** Updates applied since start, for metrics and tests. */
  updates = 0

  /** `fetcher` reads uncommitted records: table topics are written outside transactions (the metadata mirror). */
  constructor(fetcher: Fetcher, specs: GlobalTableSpec[], onError: (message: string) => void) {
    this.#fetcher = fetcher
    this.#onError = onError
    for (const spec of specs) {
      this.#tables.set(spec.topic, {
        spec,
        store: inMemoryStores.keyValue({ name: spec.topic, keySerde: spec.key, valueSerde: spec.value }),
        positions: new Map()
      })
    }
  }

  view(topic: string): TableView<unknown, unknown> {
    const table = this.#tables.get(topic)
    if (table === undefined) throw new Error(`no global table ${topic}`)
    return table.store
  }

  size(topic: string): number {
    return this.#tables.get(topic)?.store.size ?? 0
  }

  /** Loads every table to its current end, then keeps following them. */
  async start(): Promise<void> {
    for (const table of this.#tables.values()) {
      await table.store.open()
      const partitions = await this.#fetcher.partitions(table.spec.topic)
      const starts = await this.#fetcher.startOffsets(table.spec.topic)
      for (let p = 0; p < partitions; p++) table.positions.set(p, starts[p] ?? 0n)
      for await (const batch of readToEnd(this.#fetcher, table.spec.topic, table.positions)) {
        for (const record of batch) this.#apply(table, record)
        const last = batch.at(-1)!
        table.positions.set(last.source.partition, last.source.offset + 1n)
      }
    }
    if (this.#tables.size === 0) return
    this.#running = true
    this.#loop = this.#follow()
  }

  async #follow(): Promise<void> {
    while (this.#running) {
      for (const table of this.#tables.values()) {
        try {
          const fetched = await this.#fetcher.fetch(
            [...table.positions].map(([partition, offset]) => ({ topic: table.spec.topic, partition, offset }))
          )
          for (const part of fetched) {
            for (const record of part.records) this.#apply(table, record)
            table.positions.set(part.partition, part.next)
          }
        } catch (error) {
          this.#onError(`global table ${table.spec.topic}: ${errorMessage(error)}`)
          await sleep(1000)
        }
        if (!this.#running) return
      }
    }
  }

  #apply(table: Table, record: RawRecord): void {
    if (record.key === null) return
    try {
      const key = table.spec.key.deserialize(record.key)
      if (record.value === null) table.store.delete(key)
      else table.store.put(key, table.spec.value.deserialize(record.value))
      this.updates++
    } catch (error) {
      this.#onError(
        `global table ${table.spec.topic} offset ${record.source.partition}:${record.source.offset}: ${errorMessage(error)}`
      )
    }
  }

  async stop(): Promise<void> {
    this.#running = false
    await this.#loop
    for (const table of this.#tables.values()) await table.store.close()
  }
}
