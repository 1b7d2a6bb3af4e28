// An owner task: one partition of an aggregation's partials topic, so one share of its keys.
// It merges partials into its window store and keeps the latest stream time each source
// partition reported. Two watermarks follow from those:
// - strict: the minimum stream time over all source partitions. A window whose end + grace
//   it has passed can receive nothing more: its value is final on every replay.
// - effective: the same minimum, but an idle source counts as at least the wall clock, so
//   quiet streams still close their windows.
// A window is emitted when the effective watermark passes its end + grace; it stays in the
// store, marked emitted, until the strict watermark passes too, so that a partial arriving
// after an idle close re-emits the window with its corrected total (counted as a correction).
// Assembled windows (sliding, session) keep points instead of windows, and a
// WindowAssembler makes the windows out of them.
import type { KeyValueStore, WindowStore } from '../stores/index.ts'
import type { Serde } from '../lib/serdes.ts'
import type { Aggregation } from '../topology/aggregation.ts'
import { closesAt, type FixedWindows } from '../topology/windows/windows.ts'
import type { RawRecord, WindowedRecord } from '../topology/records.ts'
import { NO_TIME, partialsCodec, type PartialsCodec } from './partials-codec.ts'
import type { EngineMetrics } from './metrics.ts'
import { WindowAssembler } from './window-assembler.ts'

export interface OwnedWindow<A> {
  value: A
  /** Emitted at least once. */
  emitted: boolean
  /** Changed since it was last emitted. */
  changed: boolean
}

export interface SourceTime {
  streamTime: number
  idle: boolean
}

export function ownedWindowSerde<A>(inner: Serde<A>): Serde<OwnedWindow<A>> {
  return {
    serialize: ({ value, emitted, changed }) =>
      Buffer.concat([Buffer.from([(emitted ? 1 : 0) | (changed ? 2 : 0)]), inner.serialize(value)]),
    deserialize: bytes => ({
      value: inner.deserialize(bytes.subarray(1)),
      emitted: (bytes[0]! & 1) !== 0,
      changed: (bytes[0]! & 2) !== 0
    })
  }
}

export const sourceTimeSerde: Serde<SourceTime> = {
  serialize: ({ streamTime, idle }) => Buffer.from(JSON.stringify([streamTime, idle ? 1 : 0])),
  deserialize: bytes => {
    const [streamTime, idle] = JSON.parse(bytes.toString()) as [number, number]
    return { streamTime, idle: idle === 1 }
  }
}

export interface OwnerTaskOptions<K, A> {
  aggregation: Aggregation<K, unknown, A>
  partition: number
  windows: WindowStore<K, OwnedWindow<A>>
  sourceTimes: KeyValueStore<string, SourceTime>
  /** Every source partition feeding this aggregation (`topic:partition`). */
  sources: string[]
  metrics: EngineMetrics
}

export class OwnerTask<K, A> {
  readonly partition: number
  readonly #options: OwnerTaskOptions<K, A>
  readonly #codec: PartialsCodec<K, A>
  /** One of the two: windows held as they are, or assembled from points. */
  readonly #fixed: FixedWindows | undefined
  readonly #assembler: WindowAssembler<K, A> | undefined
  /** Windows changed since the last watch check (only kept when the aggregation has watches). */
  readonly #touched = new Map<string, { start: number; key: K }>()
  /** Records applied since the last punctuate (true at first: restored windows may be due). */
  #applied = true

  constructor(options: OwnerTaskOptions<K, A>) {
    this.#options = options
    this.partition = options.partition
    this.#codec = partialsCodec(options.aggregation.key, options.aggregation.value)
    const { windows } = options.aggregation
    this.#fixed = windows.assembly === undefined ? windows : undefined
    this.#assembler =
      windows.assembly === undefined
        ? undefined
        : new WindowAssembler(options.aggregation, windows.assembly, options.windows, options.sourceTimes)
  }

  get aggregation(): string {
    return this.#options.aggregation.name
  }

  apply(raw: RawRecord): void {
    this.#applied = true
    const record = this.#codec.decode(raw.key, raw.value)
    if (record.kind === 'heartbeat') {
      this.#options.sourceTimes.put(record.source, { streamTime: record.streamTime, idle: record.idle })
      return
    }
    const { windows, aggregation } = this.#options
    for (const { start, key, value } of record.partials) {
      if (this.#assembler !== undefined) {
        this.#assembler.add(start, key, value)
        continue
      }
      const current = windows.get(start, key)
      if (current === undefined) {
        windows.put(start, key, { value, emitted: false, changed: true })
      } else {
        current.value = aggregation.merger(key, current.value, value)
        current.changed = true
        windows.put(start, key, current)
      }
      if (aggregation.watches.length > 0)
        this.#touched.set(`${start}\u0000${aggregation.identity(key)}`, { start, key })
    }
  }

  /**
   * Runs the aggregation's watches over the windows that changed since the last call (before
   * they may close): a value a watch returns replaces the stored aggregate and is emitted.
   */
  checkWatches(): Array<{ watch: string; records: WindowedRecord<K, A>[] }> {
    const { windows, aggregation } = this.#options
    if (this.#touched.size === 0) return []
    const result = aggregation.watches.map(watch => ({ watch: watch.name, records: [] as WindowedRecord<K, A>[] }))
    for (const { start, key } of this.#touched.values()) {
      const window = windows.get(start, key)
      if (window === undefined) continue
      aggregation.watches.forEach((watch, i) => {
        const value = watch.check(key, start, window.value)
        if (value === undefined) return
        window.value = value
        windows.put(start, key, window)
        result[i]!.records.push({ key, start, end: this.#fixed!.endOf(start), value, correction: false })
      })
    }
    this.#touched.clear()
    return result.filter(r => r.records.length > 0)
  }

  /** The windows held now, for inspection (test driver, debugging). */
  *windowEntries(): IterableIterator<{ start: number; end: number; key: K; value: A; emitted: boolean }> {
    // The strict watermark does not depend on the wall clock.
    if (this.#assembler !== undefined) return yield* this.#assembler.windowEntries(this.watermarks(0).strict)
    for (const { start, key, value } of this.#options.windows.entries())
      yield { start, end: this.#fixed!.endOf(start), key, value: value.value, emitted: value.emitted }
  }

  /** The two watermarks (see the header); NO_TIME until every source has reported. */
  watermarks(now: number): { strict: number; effective: number } {
    let strict = Number.MAX_SAFE_INTEGER
    let effective = Number.MAX_SAFE_INTEGER
    for (const source of this.#options.sources) {
      const time = this.#options.sourceTimes.get(source)
      const streamTime = time?.streamTime ?? NO_TIME
      strict = Math.min(strict, streamTime)
      effective = Math.min(effective, time?.idle === true ? Math.max(streamTime, now) : streamTime)
    }
    return { strict, effective }
  }

  #anyIdle(): boolean {
    return this.#options.sources.some(source => this.#options.sourceTimes.get(source)?.idle === true)
  }

  /** Emits the windows that closed (final values and corrections) and forgets the ones that are final. */
  punctuate(now: number): WindowedRecord<K, A>[] {
    const { aggregation, metrics } = this.#options
    const emitted: WindowedRecord<K, A>[] = []
    // Without new records, only the wall clock (through idle sources) moves the watermarks.
    if (!this.#applied && !this.#anyIdle()) return emitted
    this.#applied = false
    const { strict, effective } = this.watermarks(now)
    if (effective <= NO_TIME) return emitted
    let corrections: number
    if (this.#assembler !== undefined) {
      const closed = this.#assembler.close(strict, effective)
      emitted.push(...closed.emitted)
      corrections = closed.corrections
    } else corrections = this.#closeFixed(this.#fixed!, strict, effective, emitted)
    if (emitted.length > 0) metrics.windowsEmitted(aggregation.name, emitted.length)
    if (corrections > 0) metrics.corrections(aggregation.name, corrections)
    return emitted
  }

  /** Emits the fixed windows the effective watermark closed into `emitted`; returns how many were corrections. */
  #closeFixed(windows: FixedWindows, strict: number, effective: number, emitted: WindowedRecord<K, A>[]): number {
    const { windows: store } = this.#options
    let corrections = 0
    // Windows closed by the effective watermark start at or before this bound.
    const bound = windows.lastClosedStart(effective)
    for (const { start, key, value: window } of store.windowsUpTo(bound + 1)) {
      if (window.changed) {
        emitted.push({ key, start, end: windows.endOf(start), value: window.value, correction: window.emitted })
        if (window.emitted) corrections++
      }
      if (closesAt(windows, start) <= strict) {
        store.delete(start, key)
      } else if (window.changed) {
        window.emitted = true
        window.changed = false
        store.put(start, key, window)
      }
    }
    return corrections
  }
}
