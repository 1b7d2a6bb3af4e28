// Prometheus metrics of a stream instance: the engine's counts (EngineMetrics) and the
// antenna application's own, in one registry served at /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { reasonLabel, type EngineMetrics } from '../runtime/metrics.ts'

export class StreamMetrics implements EngineMetrics {
  readonly registry = new Registry()
  readonly #recordsIn: Counter
  readonly #deadLetters: Counter
  readonly #late: Counter
  readonly #windows: Counter
  readonly #watched: Counter
  readonly #corrections: Counter
  readonly #restored: Counter
  readonly #unknownUsers: Counter
  readonly #commitFailures: Counter
  readonly #delivery: Histogram
  readonly lag: Gauge

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cellstream_process_' })
    const counter = (name: string, help: string, labelNames: string[] = []): Counter =>
      new Counter({ name, help, labelNames, registers: [this.registry] })
    this.#recordsIn = counter('cellstream_records_in_total', 'records read from input topics', ['topic'])
    this.#deadLetters = counter('cellstream_dead_letters_total', 'records sent to the dead-letter topic, by reason', [
      'reason'
    ])
    this.#late = counter(
      'cellstream_late_events_total',
      'events whose window had closed in their partition (archived, not in 5-minute totals)',
      ['aggregation']
    )
    this.#windows = counter('cellstream_windows_emitted_total', 'closed windows emitted', ['aggregation'])
    this.#watched = counter(
      'cellstream_watch_emitted_total',
      'records a watch emitted: watch="quota-alerts" counts live quota alerts (users going over their hourly quota)',
      ['watch']
    )
    this.#corrections = counter(
      'cellstream_window_corrections_total',
      'windows emitted again with a corrected total after an idle close',
      ['aggregation']
    )
    this.#restored = counter(
      'cellstream_restored_records_total',
      'changelog records applied to local stores on start or when partitions moved',
      ['store']
    )
    this.#commitFailures = counter(
      'cellstream_commit_failures_total',
      'commits that failed for another reason than a rebalance (an outage of the broker, PostgreSQL or the disk); each is retried after a back-off'
    )
    this.#unknownUsers = counter(
      'cellstream_unknown_user_events_total',
      'events of users missing from user metadata (still counted in every total)'
    )
    this.#delivery = new Histogram({
      name: 'cellstream_window_delivery_seconds',
      help: 'from the close of the oldest window in a sink flush (Postgres) to the end of that flush',
      labelNames: ['aggregation'],
      // Fine enough for a p50 and p99 read from the buckets (bench/run.ts).
      buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers: [this.registry]
    })
    this.lag = new Gauge({
      name: 'cellstream_consumer_lag',
      help: 'records between the last fetch position and the end of each assigned partition',
      labelNames: ['topic', 'partition'],
      registers: [this.registry]
    })
  }

  recordsIn(topic: string, _partition: number, count: number): void {
    this.#recordsIn.inc({ topic }, count)
  }
  deadLetter(reason: string): void {
    this.#deadLetters.inc({ reason: reasonLabel(reason) })
  }
  late(aggregation: string): void {
    this.#late.inc({ aggregation })
  }
  windowsEmitted(aggregation: string, count: number): void {
    this.#windows.inc({ aggregation }, count)
  }
  watchEmitted(watch: string, count: number): void {
    this.#watched.inc({ watch }, count)
  }
  corrections(aggregation: string, count: number): void {
    this.#corrections.inc({ aggregation }, count)
  }
  restored(store: string, records: number): void {
    this.#restored.inc({ store }, records)
  }
  windowsDelivered(aggregation: string, latencyMs: number): void {
    this.#delivery.observe({ aggregation }, latencyMs / 1000)
  }
  unknownUser(): void {
    this.#unknownUsers.inc()
  }
  commitFailed(): void {
    this.#commitFailures.inc()
  }

  /** Gauges read from the running instance at each scrape. */
  watch(instance: { readonly commits: number; readonly assignment: string[] }): void {
    new Gauge({
      name: 'cellstream_commits',
      help: 'exactly-once commits since start',
      registers: [this.registry],
      collect() {
        this.set(instance.commits)
      }
    })
    new Gauge({
      name: 'cellstream_assigned_partitions',
      help: 'input and partials partitions this instance works on',
      registers: [this.registry],
      collect() {
        this.set(instance.assignment.length)
      }
    })
  }
}

/** The metadata mirror's counts, read at each scrape. */
export function watchMirror(
  registry: Registry,
  mirror: { readonly published: number; readonly skipped: number; readonly state: string }
): void {
  new Gauge({
    name: 'cellstream_mirror_published_records',
    help: 'user metadata records (rows and tombstones) the mirror published since start',
    registers: [registry],
    collect() {
      this.set(mirror.published)
    }
  })
  new Gauge({
    name: 'cellstream_mirror_skipped_rows',
    help: 'user rows too large for the metadata topic, reported and skipped since start (the topic keeps their previous value)',
    registers: [registry],
    collect() {
      this.set(mirror.skipped)
    }
  })
  new Gauge({
    name: 'cellstream_mirror_active',
    help: '1 while this mirror publishes, 0 while another one does (standby) or it stopped',
    registers: [registry],
    collect() {
      this.set(mirror.state === 'active' ? 1 : 0)
    }
  })
}
