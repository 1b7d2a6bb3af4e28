// The first phase of two-phase aggregation: each source task folds its records into partial
// aggregates per (window, key) between commits, and forwards only those partials to the task
// that owns the key. This moves one record per window and key instead of one per event.

export interface PartialEntry<K, A> {
  start: number
  key: K
  value: A
}

export class PartialAggregates<K, A> {
  readonly #entries = new Map<string, PartialEntry<K, A>>()
  readonly #identity: (key: K) => string

  /** `identity` maps a key to a string that is equal exactly when the keys are. */
  constructor (identity: (key: K) => string) {
    this.#identity = identity
  }

  get size (): number {
    return this.#entries.size
  }

  /** Returns the entry of (start, key), created with `init` when missing; mutate its value in place. */
  entry (start: number, key: K, init: () => A): PartialEntry<K, A> {
    const id = `${start}\u0000${this.#identity(key)}`
    let entry = this.#entries.get(id)
    if (entry === undefined) {
      entry = { start, key, value: init() }
      this.#entries.set(id, entry)
    }
    return entry
  }

  /** Everything folded since the last drain; the map starts empty again. */
  drain (): PartialEntry<K, A>[] {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    return entries
  }
}
