// What the engine counts. The runtime reports through this interface so that the engine
// does not depend on a metrics library; the application binds it to Prometheus counters.

export interface EngineMetrics {
  recordsIn(topic: string, partition: number, count: number): void
  deadLetter(reason: string): void
  late(aggregation: string): void
  windowsEmitted(aggregation: string, count: number): void
  /** A watch emitted records (the antenna application's watch: quota alerts). */
  watchEmitted(watch: string, count: number): void
  corrections(aggregation: string, count: number): void
  restored(store: string, records: number): void
  /** A flush of an aggregation's sinks finished; `latencyMs` since the oldest window in it closed. */
  windowsDelivered(aggregation: string, latencyMs: number): void
  /** A commit failed for another reason than a rebalance (an outage): it is retried. */
  commitFailed(): void
}

export const noMetrics: EngineMetrics = {
  recordsIn() {},
  deadLetter() {},
  late() {},
  windowsEmitted() {},
  watchEmitted() {},
  corrections() {},
  restored() {},
  windowsDelivered() {},
  commitFailed() {}
}

/** Counts in memory, for tests and for the test driver. */
export class CountingMetrics implements EngineMetrics {
  readonly counts = new Map<string, number>()

  #add(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n)
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0
  }

  recordsIn(topic: string, _partition: number, count: number): void {
    this.#add(`records-in:${topic}`, count)
  }
  deadLetter(reason: string): void {
    this.#add(`dead-letter:${reasonLabel(reason)}`)
  }
  late(aggregation: string): void {
    this.#add(`late:${aggregation}`)
  }
  windowsEmitted(aggregation: string, count: number): void {
    this.#add(`windows-emitted:${aggregation}`, count)
  }
  watchEmitted(watch: string, count: number): void {
    this.#add(`watch:${watch}`, count)
  }
  corrections(aggregation: string, count: number): void {
    this.#add(`corrections:${aggregation}`, count)
  }
  restored(store: string, records: number): void {
    this.#add(`restored:${store}`, records)
  }
  windowsDelivered(aggregation: string): void {
    this.#add(`deliveries:${aggregation}`)
  }
  commitFailed(): void {
    this.#add('commit-failures')
  }
}

/**
 * The codes at the head of a dead-letter reason, without its free text, for metric labels:
 * `not-json: payload is not JSON` → `not-json`, `deserialize: empty record (null value)` → `deserialize`,
 * `map-values-1: negative bytes` → `map-values-1`.
 */
export function reasonLabel(reason: string): string {
  const codes: string[] = []
  for (const part of reason.split(': ')) {
    if (part === '' || /\s/.test(part) || codes.length === 2) break
    codes.push(part)
  }
  return codes.length > 0 ? codes.join(':') : 'other'
}
