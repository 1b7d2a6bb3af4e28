// The exact results the pipeline must produce for a sequence of records, computed the plain
// way: validate each record, then add it into maps of totals. It shares no code with the stream
// engine on purpose, so tests can hold the engine to it. Memory holds aggregates only.
//
// Semantics (design notes, "Semantics"):
// - 5-minute tumbling windows aligned to the epoch, [start, start + 300).
// - A record is late when its window's end + grace ≤ the stream time of its partition: the
//   largest event time among that partition's earlier valid records. Late events are left out
//   of the 5-minute totals only.
// - Hourly totals and quota usage count every valid event, late ones included.
// - A user is over quota in a UTC hour when the sum of their bytes is strictly greater than
//   their hourly quota. Users without metadata count in the totals but have no quota.
// - Live quota alerts (the speed layer's `quota_alerts`) count an hour's events that were not
//   late for the hour itself (hour end + grace ≤ the partition's stream time): a user-hour
//   alerts when that sum goes over the quota, and its usage, once the hour has closed, is that
//   sum. Running sums only grow, so whether and how often partitions interleave changes when
//   the alert is seen, never whether.
//
// Records without a partition form one ordered stream (partition 0): with a single input
// partition that is exactly what the engine sees. With more, pass each record's partition; the
// late rule then runs per partition, in each partition's own order.
import { type InvalidReason, type ValidEvent, validateEvent } from './validate.ts'

export const WINDOW_SECONDS = 300
export const HOUR_SECONDS = 3600
export const DEFAULT_GRACE_SECONDS = 60

export const TOTAL_TYPES = ['antenna_total_bytes', 'user_total_bytes', 'app_total_bytes'] as const
export type TotalType = (typeof TOTAL_TYPES)[number]

/** A row of `bytes` (timestamp = window start) or `bytes_hourly` (timestamp = hour start). */
export interface BytesRow {
  timestamp: string
  id: string
  value: number
  type: TotalType
}
/** A row of `user_quota_limit`. */
export interface QuotaRow {
  email: string
  usage: number
  quota: number
  timestamp: string
}

export interface UserQuota {
  id: string
  email: string
  quota: number
}

export interface TruthSummary {
  records: number
  valid: number
  invalid: number
  late: number
  invalidByReason: Partial<Record<InvalidReason, number>>
}

/** What the truth made of one record: the reason it is invalid, or whether it was late. */
export type RecordVerdict = { invalid: InvalidReason } | 'late' | 'on-time'

export interface TruthResult {
  bytes: BytesRow[]
  bytesHourly: BytesRow[]
  userQuotaLimit: QuotaRow[]
  /** Rows of `quota_alerts` once every hour has closed (without detected_at). */
  quotaAlerts: QuotaRow[]
  summary: TruthSummary
}

export interface TruthOptions {
  /** Seconds a window waits for late records after its end. Default 60. */
  graceSeconds?: number
  /** Users with an hourly quota; others are not checked. */
  users?: readonly UserQuota[]
  /**
   * The Kafka timestamp of records added without one, epoch seconds: the time the future
   * rule is measured from. Default: now (records read from a file were sent before this runs).
   */
  recordSeconds?: number
  /** How far an event may be ahead of its record's Kafka timestamp. Default 300. */
  maxFutureSeconds?: number
}

export class GroundTruth {
  readonly #grace: number
  readonly #recordSeconds: number
  readonly #maxFuture: number | undefined
  readonly #users: Map<string, UserQuota>
  readonly #windows: Totals = new Map()
  readonly #hours: Totals = new Map()
  readonly #usage = new Map<number, Map<string, number>>()
  /** Usage per hour and user of the events not late for their hour: what live alerts see. */
  readonly #liveUsage = new Map<number, Map<string, number>>()
  readonly #streamTime = new Map<number, number>()
  readonly #summary: TruthSummary = { records: 0, valid: 0, invalid: 0, late: 0, invalidByReason: {} }

  constructor(options: TruthOptions = {}) {
    this.#grace = options.graceSeconds ?? DEFAULT_GRACE_SECONDS
    this.#recordSeconds = options.recordSeconds ?? Math.floor(Date.now() / 1000)
    this.#maxFuture = options.maxFutureSeconds
    this.#users = new Map((options.users ?? []).map(u => [u.id, u]))
  }

  /**
   * Adds one record payload, as read from the topic (with its Kafka timestamp) or a record file;
   * returns what became of it, so that a record's dead letter or late copy can be checked.
   */
  add(payload: Uint8Array | string, partition = 0, recordSeconds = this.#recordSeconds): RecordVerdict {
    this.#summary.records++
    const validation = validateEvent(payload, { recordSeconds, maxFutureSeconds: this.#maxFuture })
    if (!validation.ok) {
      this.#summary.invalid++
      this.#summary.invalidByReason[validation.reason] = (this.#summary.invalidByReason[validation.reason] ?? 0) + 1
      return { invalid: validation.reason }
    }
    return this.#addValid(validation.event, partition) ? 'late' : 'on-time'
  }

  /** Adds a valid event; returns whether it was late. */
  #addValid(event: ValidEvent, partition: number): boolean {
    this.#summary.valid++
    const window = event.timestamp - mod(event.timestamp, WINDOW_SECONDS)
    const hour = event.timestamp - mod(event.timestamp, HOUR_SECONDS)
    const streamTime = this.#streamTime.get(partition) ?? -Infinity
    const late = window + WINDOW_SECONDS + this.#grace <= streamTime
    if (late) {
      this.#summary.late++
    } else {
      addEvent(this.#windows, window, event)
    }
    if (event.timestamp > streamTime) this.#streamTime.set(partition, event.timestamp)
    addEvent(this.#hours, hour, event)
    if (this.#users.has(event.id)) {
      addTo(
        slot(this.#usage, hour, () => new Map()),
        event.id,
        event.bytes
      )
      if (hour + HOUR_SECONDS + this.#grace > streamTime)
        addTo(
          slot(this.#liveUsage, hour, () => new Map()),
          event.id,
          event.bytes
        )
    }
    return late
  }

  /** The three tables, each sorted by timestamp, then type and id (quota rows by email). */
  result(): TruthResult {
    return {
      bytes: rows(this.#windows),
      bytesHourly: rows(this.#hours),
      userQuotaLimit: this.#overQuota(this.#usage),
      quotaAlerts: this.#overQuota(this.#liveUsage),
      summary: structuredClone(this.#summary)
    }
  }

  #overQuota(usage: Map<number, Map<string, number>>): QuotaRow[] {
    const quotaRows: QuotaRow[] = []
    for (const [hour, users] of usage) {
      for (const [id, total] of users) {
        const user = this.#users.get(id)!
        if (total > user.quota)
          quotaRows.push({ email: user.email, usage: total, quota: user.quota, timestamp: iso(hour) })
      }
    }
    return quotaRows.sort((a, b) => compare(a.timestamp, b.timestamp) || compare(a.email, b.email))
  }
}

// Totals per window (or hour) start, then per type (in TOTAL_TYPES order), then per id. Nested
// maps keyed by the parsed strings themselves: building a composite key string per event
// cost more than everything else.
type Totals = Map<number, [Map<string, number>, Map<string, number>, Map<string, number>]>

function addEvent(totals: Totals, start: number, event: ValidEvent): void {
  const [antennas, users, apps] = slot(totals, start, () => [new Map(), new Map(), new Map()])
  addTo(antennas, event.antenna_id, event.bytes)
  addTo(users, event.id, event.bytes)
  addTo(apps, event.app, event.bytes)
}

function slot<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key)
  if (value === undefined) map.set(key, (value = create()))
  return value
}

function rows(totals: Totals): BytesRow[] {
  const out: BytesRow[] = []
  for (const [start, byType] of totals) {
    const timestamp = iso(start)
    byType.forEach((ids, i) => {
      for (const [id, value] of ids) out.push({ timestamp, id, value, type: TOTAL_TYPES[i]! })
    })
  }
  return out.sort((a, b) => compare(a.timestamp, b.timestamp) || compare(a.type, b.type) || compare(a.id, b.id))
}

function addTo(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value)
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** An epoch second as ISO 8601 UTC without milliseconds: 2020-09-19T20:00:00Z. */
export function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z')
}
