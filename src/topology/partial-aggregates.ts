// The first phase of two-phase aggregation: each source task folds its records into partial
// aggregates per (window, key) between commits, and forwards only those partials to the task
// that owns the key. This moves one record per window and key instead of one per event.

export interface PartialEntry<K, A> {
  start: number
  key: K
  value: A
}

export class PartialAggregates<K, A> {
  // Window start → key identity → entry: two lookups are cheaper than building a combined
  // string key for every record.
  readonly #windows = new Map<number, Map<string, PartialEntry<K, A>>>()
  readonly #identity: (key: K) => string
  #lastStart = Number.NaN
  #lastEntries: Map<string, PartialEntry<K, A>> | undefined

  /** `identity` maps a key to a string that is equal exactly when the keys are. */
  constructor(identity: (key: K) => string) {
    this.#identity = identity
  }

  get size(): number {
    let size = 0
    for (const entries of this.#windows.values()) size += entries.size
    return size
  }

  /** Returns the entry of (start, key), created with `init` when missing; mutate its value in place. */
  entry(start: number, key: K, init: () => A): PartialEntry<K, A> {
    // Records mostly arrive in time order, so most fall in the window of the one before.
    let entries = start === this.#lastStart ? this.#lastEntries : this.#windows.get(start)
    if (entries === undefined) this.#windows.set(start, (entries = new Map()))
    this.#lastStart = start
    this.#lastEntries = entries
    const id = this.#identity(key)
    let entry = entries.get(id)
    if (entry === undefined) {
      entry = { start, key, value: init() }
      entries.set(id, entry)
    }
    return entry
  }

  /** Everything folded since the last drain; the map starts empty again. */
  drain(): PartialEntry<K, A>[] {
    const drained: PartialEntry<K, A>[] = []
    for (const entries of this.#windows.values()) for (const entry of entries.values()) drained.push(entry)
    this.#windows.clear()
    this.#lastStart = Number.NaN
    this.#lastEntries = undefined
    return drained
  }
}
