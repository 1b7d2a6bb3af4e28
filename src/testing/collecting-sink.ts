// A window sink that keeps what it was given in memory: `records` holds every flushed
// window, in order; windows added but not yet flushed are not visible, as in a real sink.
import type { WindowSink } from '../topology/aggregation.ts'
import type { WindowedRecord } from '../topology/records.ts'

export class CollectingSink<K, A> implements WindowSink<K, A> {
  readonly records: WindowedRecord<K, A>[] = []
  #pending: WindowedRecord<K, A>[] = []

  add(records: WindowedRecord<K, A>[]): void {
    this.#pending.push(...records)
  }

  async flush(): Promise<void> {
    this.records.push(...this.#pending)
    this.#pending = []
  }
}
