// The owner's side of assembled windows (sliding and session windows, windows.ts): its
// window store holds points, (timestamp, key) → the merged partials of the key's records at
// that timestamp, and a window's value is assembled from the points in it when the watermark
// closes it. `emittedThrough` (the effective watermark of the last close) tells which windows
// a watermark newly closes; it is kept in the source-times store, which commits with it.
// A point's `changed` flag marks one that arrived for windows already emitted (only possible
// after an idle close): the closed windows it changes are emitted again, as corrections.
import type { KeyValueStore, WindowStore } from '../stores/index.ts'
import type { Aggregation } from '../topology/aggregation.ts'
import type { AssembledWindow, WindowAssembly } from '../topology/windows/windows.ts'
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
  readonly #assembly: WindowAssembly
  readonly #store: WindowStore<K, OwnedWindow<A>>
  readonly #sourceTimes: KeyValueStore<string, SourceTime>
  /** False once a close found no pending point and none came since (restored ones may be pending). */
  #mayBePending = true
  /** The strict watermark of the last close, to know when points may be forgotten. */
  #lastStrict = Number.NEGATIVE_INFINITY

  constructor(
    aggregation: Aggregation<K, unknown, A>,
    assembly: WindowAssembly,
    store: WindowStore<K, OwnedWindow<A>>,
    sourceTimes: KeyValueStore<string, SourceTime>
  ) {
    this.#aggregation = aggregation
    this.#assembly = assembly
    this.#store = store
    this.#sourceTimes = sourceTimes
  }

  get #emittedThrough(): number {
    return this.#sourceTimes.get(EMITTED_THROUGH)?.streamTime ?? NO_TIME
  }

  /** Merges a partial into the point of (`time`, `key`). */
  add(time: number, key: K, value: A): void {
    // Only a record late by the watermark of the last close can change a window it closed.
    const pending = this.#assembly.lateness(time).at <= this.#emittedThrough
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
   * Emits the windows the effective watermark newly closes, and again the closed ones a
   * pending point changes; forgets the points no window can need once the strict watermark
   * has closed them.
   */
  close(strict: number, effective: number): { emitted: WindowedRecord<K, A>[]; corrections: number } {
    const through = this.#emittedThrough
    const emitted: WindowedRecord<K, A>[] = []
    let corrections = 0
    let stillPending = false
    const due = this.#mayBePending || effective > through || strict > this.#lastStrict
    this.#lastStrict = strict
    const keys = due ? this.#pointsBefore(this.#assembly.neededBefore(effective)) : []
    for (const { key, times, points } of keys) {
      const windows = this.#assembly.windows(times)
      const changed = (w: AssembledWindow): boolean => points.slice(w.affectedFrom, w.to).some(p => p.changed)
      for (const window of windows) {
        if (window.closesAt > effective) continue
        const fresh = window.closesAt > through
        if (!fresh && !changed(window)) continue
        const value = this.#merge(key, points, window.from, window.to)
        emitted.push({ key, start: window.start, end: window.end, value, correction: !fresh })
        if (!fresh) corrections++
      }
      points.forEach((point, i) => {
        if (!point.changed) return
        // Still pending while a window it changes was emitted before and has not been again
        // (the effective watermark went back behind it).
        const waiting = windows.some(
          w => w.affectedFrom <= i && i < w.to && w.closesAt <= through && w.closesAt > effective
        )
        if (waiting) {
          stillPending = true
          return
        }
        point.changed = false
        this.#store.put(times[i]!, key, point)
      })
      const forgotten = this.#assembly.forgettable(times, windows, strict)
      for (let i = 0; i < forgotten; i++) this.#store.delete(times[i]!, key)
    }
    // A pending point may lie beyond what was scanned when the watermark went back.
    if (due && effective >= through) this.#mayBePending = stillPending
    if (effective > through) this.#sourceTimes.put(EMITTED_THROUGH, { streamTime: effective, idle: false })
    return { emitted, corrections }
  }

  /**
   * The windows not yet final (the strict watermark has not closed them), open or emitted, for
   * inspection. Final ones may have lost points already.
   */
  *windowEntries(strict: number): IterableIterator<{ start: number; end: number; key: K; value: A; emitted: boolean }> {
    const through = this.#emittedThrough
    for (const { key, times, points } of this.#pointsBefore(Number.MAX_SAFE_INTEGER))
      for (const { start, end, from, to, closesAt } of this.#assembly.windows(times))
        if (closesAt > strict)
          yield { start, end, key, value: this.#merge(key, points, from, to), emitted: closesAt <= through }
  }

  /** The points at times before `endExclusive`, per key, in time order. */
  #pointsBefore(endExclusive: number): IterableIterator<KeyPoints<K, A>> {
    const byKey = new Map<string, KeyPoints<K, A>>()
    for (const { start, key, value } of this.#store.windowsUpTo(endExclusive)) {
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
