// The owner's side of assembled windows (sliding windows, windows.ts): its window store
// holds points, (timestamp, key) → the merged partials of the key's records at that
// timestamp, and a window's value is assembled from the points in it when the watermark
// closes it. `emittedThrough` (the largest window start closed so far) tells which windows a
// watermark newly closes; it is kept in the source-times store, which commits with it.
// A point's `changed` flag marks one that arrived for windows already emitted (only possible
// after an idle close): the windows it reaches are emitted again as corrections.
import type { KeyValueStore, WindowStore } from '../stores/index.ts'
import type { Aggregation } from '../topology/aggregation.ts'
import type { WindowAssembly, Windows } from '../topology/windows/windows.ts'
import type { WindowedRecord } from '../topology/records.ts'
import { NO_TIME } from './partials-codec.ts'
import type { OwnedWindow, SourceTime } from './owner-task.ts'

/** The key under which the source-times store keeps `emittedThrough`; no source partition is named so. */
const EMITTED_THROUGH = '\u0000emitted-through'

interface KeyPoints<K, A> {
  key: K
  times: number[]
  points: OwnedWindow<A>[]
}

export class WindowAssembler<K, A> {
  readonly #aggregation: Aggregation<K, unknown, A>
  readonly #windows: Windows
  readonly #assembly: WindowAssembly
  readonly #store: WindowStore<K, OwnedWindow<A>>
  readonly #sourceTimes: KeyValueStore<string, SourceTime>
  /** False once a close found no pending point and none came since (restored ones may be pending). */
  #mayBePending = true

  constructor(
    aggregation: Aggregation<K, unknown, A>,
    assembly: WindowAssembly,
    store: WindowStore<K, OwnedWindow<A>>,
    sourceTimes: KeyValueStore<string, SourceTime>
  ) {
    this.#aggregation = aggregation
    this.#windows = aggregation.windows
    this.#assembly = assembly
    this.#store = store
    this.#sourceTimes = sourceTimes
  }

  get #emittedThrough(): number {
    return this.#sourceTimes.get(EMITTED_THROUGH)?.streamTime ?? NO_TIME
  }

  /** Merges a partial into the point of (`time`, `key`). */
  add(time: number, key: K, value: A): void {
    const pending = this.#assembly.reach(time).first <= this.#emittedThrough
    if (pending) this.#mayBePending = true
    const current = this.#store.get(time, key)
    if (current === undefined) {
      this.#store.put(time, key, { value, emitted: false, changed: pending })
    } else {
      current.value = this.#aggregation.merger(key, current.value, value)
      current.changed ||= pending
      this.#store.put(time, key, current)
    }
  }

  /**
   * Emits the windows the effective watermark newly closes, and again those a pending point
   * reaches; forgets the points whose windows the strict watermark has closed for good.
   */
  close(strict: number, effective: number): { emitted: WindowedRecord<K, A>[]; corrections: number } {
    const windows = this.#windows
    const bound = windows.lastClosedStart(effective)
    const through = this.#emittedThrough
    const emitted: WindowedRecord<K, A>[] = []
    let corrections = 0
    let stillPending = false
    // Points after the end of the last closed window are in no closed window. Without pending
    // points only windows after `through` are due, and those are made of points from
    // `through` on (a window starting at s may be made by a point at s - 1).
    const scanFrom = this.#mayBePending ? 0 : through
    const due = this.#mayBePending || bound > through
    for (const { key, times, points } of due ? this.#pointsBetween(scanFrom, windows.endOf(bound)) : []) {
      const pending = times.filter((_, i) => points[i]!.changed).map(time => this.#assembly.reach(time))
      for (const { start, from, to } of this.#assembly.windows(times, bound)) {
        const fresh = start > through
        if (!fresh && !pending.some(({ first, last }) => first <= start && start <= last)) continue
        emitted.push({
          key,
          start,
          end: windows.endOf(start),
          value: this.#merge(key, points, from, to),
          correction: !fresh
        })
        if (!fresh) corrections++
      }
      if (pending.length === 0) continue
      points.forEach((point, i) => {
        // Settled once every window it reaches that is not still to close fresh was emitted.
        if (!point.changed) return
        if (Math.min(this.#assembly.reach(times[i]!).last, through) > bound) {
          stillPending = true
          return
        }
        point.changed = false
        this.#store.put(times[i]!, key, point)
      })
    }
    // A pending point reaches a window at or before `through`; if the bound is behind that
    // (the effective watermark went back), it may lie beyond what was scanned.
    if (this.#mayBePending && bound >= through) this.#mayBePending = stillPending
    const final = windows.lastClosedStart(strict)
    for (const { start, key } of [...this.#store.windowsUpTo(final)])
      if (this.#assembly.reach(start).last <= final) this.#store.delete(start, key)
    if (bound > through) this.#sourceTimes.put(EMITTED_THROUGH, { streamTime: bound, idle: false })
    return { emitted, corrections }
  }

  /**
   * The windows not yet final (the strict watermark has not closed them), open or emitted, for
   * inspection. Final ones may have lost points already.
   */
  *windowEntries(strict: number): IterableIterator<{ start: number; key: K; value: A; emitted: boolean }> {
    const through = this.#emittedThrough
    const final = this.#windows.lastClosedStart(strict)
    for (const { key, times, points } of this.#pointsBetween(0, Number.MAX_SAFE_INTEGER))
      for (const { start, from, to } of this.#assembly.windows(times, Number.MAX_SAFE_INTEGER))
        if (start > final) yield { start, key, value: this.#merge(key, points, from, to), emitted: start <= through }
  }

  /** The points at times in `[from, endExclusive)`, per key, in time order. */
  #pointsBetween(from: number, endExclusive: number): IterableIterator<KeyPoints<K, A>> {
    const byKey = new Map<string, KeyPoints<K, A>>()
    for (const { start, key, value } of this.#store.windowsBetween(from, endExclusive)) {
      const id = this.#aggregation.identity(key)
      let entry = byKey.get(id)
      if (entry === undefined) byKey.set(id, (entry = { key, times: [], points: [] }))
      entry.times.push(start)
      entry.points.push(value)
    }
    return byKey.values()
  }

  // The merger may reuse its left argument: start from a copy, not from a stored point.
  #merge(key: K, points: OwnedWindow<A>[], from: number, to: number): A {
    const serde = this.#aggregation.value
    let value = serde.deserialize(serde.serialize(points[from]!.value))
    for (let i = from + 1; i < to; i++) value = this.#aggregation.merger(key, value, points[i]!.value)
    return value
  }
}
