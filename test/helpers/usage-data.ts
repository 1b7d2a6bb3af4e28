// Usage events for runtime tests, with an expected result computed here by plain loops
// (never by the engine): totals per (window, user), 5-minute tumbling windows unless told
// otherwise, an event left out of each window for which "window end + grace ≤ the largest
// event time seen before on the same partition".
import type { Producer } from '@platformatic/kafka'

export interface UsageEvent {
  partition: number
  user: string
  bytes: number
  ts: number
}

const WINDOW_S = 300
const GRACE_S = 60

/** Deterministic events: `count` events spread round-robin over partitions, time mostly increasing, some out of order. */
export function usageEvents(count: number, partitions: number, startS = 1613768400): UsageEvent[] {
  let seed = 42
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const events: UsageEvent[] = []
  for (let i = 0; i < count; i++) {
    const jitter = random() < 0.05 ? -Math.floor(random() * 600) : 0 // some events arrive up to 10 min late
    events.push({
      partition: i % partitions,
      user: `user-${Math.floor(random() * 12)}`,
      bytes: Math.floor(random() * 10_000),
      ts: startS + Math.floor(i / 5) + jitter
    })
  }
  return events
}

/**
 * Expected final totals, "windowStartMs|user" → bytes, and the number of events late for at
 * least one of their windows. Windows of `sizeS` seconds start every `advanceS` seconds
 * (equal: tumbling).
 */
export function expectedTotals(
  events: UsageEvent[],
  { sizeS = WINDOW_S, advanceS = sizeS }: { sizeS?: number; advanceS?: number } = {}
): { totals: Map<string, number>; late: number } {
  const streamTime = new Map<number, number>()
  const totals = new Map<string, number>()
  let late = 0
  for (const e of events) {
    const seen = Math.max(streamTime.get(e.partition) ?? -Infinity, e.ts)
    streamTime.set(e.partition, seen)
    let lateHere = false
    for (let start = e.ts - (e.ts % advanceS); start > e.ts - sizeS; start -= advanceS) {
      if (start + sizeS + GRACE_S <= seen) {
        lateHere = true
        continue
      }
      const id = `${start * 1000}|${e.user}`
      totals.set(id, (totals.get(id) ?? 0) + e.bytes)
    }
    if (lateHere) late++
  }
  return { totals, late }
}

/**
 * The events that count for windows defined by the records (sliding, session), per user, and
 * the number of late ones: an event is late when it is more than the grace behind the largest
 * event time seen before on its partition.
 */
function keptEvents(events: UsageEvent[]): { kept: Map<string, Array<{ ms: number; bytes: number }>>; late: number } {
  const streamTime = new Map<number, number>()
  const kept = new Map<string, Array<{ ms: number; bytes: number }>>()
  let late = 0
  for (const e of events) {
    const seen = Math.max(streamTime.get(e.partition) ?? -Infinity, e.ts)
    streamTime.set(e.partition, seen)
    if (e.ts + GRACE_S < seen) {
      late++
      continue
    }
    const list = kept.get(e.user) ?? []
    list.push({ ms: e.ts * 1000, bytes: e.bytes })
    kept.set(e.user, list)
  }
  return { kept, late }
}

/**
 * Expected final totals of sliding windows of `differenceS` seconds (grace 60 s), by brute
 * force: "windowStartMs|user" → bytes, and the number of late events. A user's windows are,
 * for each of its event times t, [t - d, t] and, when it holds an event, [t + 1, t + d + 1]
 * (both ends inclusive, in ms); each sums the user's events in it.
 */
export function expectedSlidingTotals(
  events: UsageEvent[],
  differenceS: number
): { totals: Map<string, number>; late: number } {
  const d = differenceS * 1000
  const { kept, late } = keptEvents(events)
  const totals = new Map<string, number>()
  for (const [user, list] of kept) {
    for (const { ms } of list) {
      for (const from of [ms - d, ms + 1]) {
        const inside = list.filter(e => e.ms >= from && e.ms <= from + d)
        if (inside.length > 0)
          totals.set(
            `${from}|${user}`,
            inside.reduce((a, e) => a + e.bytes, 0)
          )
      }
    }
  }
  return { totals, late }
}

/**
 * Expected final totals of sessions with an inactivity gap of `gapS` seconds (grace 60 s), by
 * brute force: "sessionStartMs|user" → bytes, and the number of late events. Events are taken
 * in arrival order; each joins (and so merges) every session that has an event at most the
 * gap away from it.
 */
export function expectedSessionTotals(
  events: UsageEvent[],
  gapS: number
): { totals: Map<string, number>; late: number } {
  const gap = gapS * 1000
  const { kept, late } = keptEvents(events)
  const totals = new Map<string, number>()
  for (const [user, list] of kept) {
    let sessions: Array<Array<{ ms: number; bytes: number }>> = []
    for (const e of list) {
      const linked = sessions.filter(s => s.some(x => Math.abs(x.ms - e.ms) <= gap))
      sessions = [...sessions.filter(s => !linked.includes(s)), [...linked.flat(), e]]
    }
    for (const s of sessions)
      totals.set(
        `${Math.min(...s.map(e => e.ms))}|${user}`,
        s.reduce((a, e) => a + e.bytes, 0)
      )
  }
  return { totals, late }
}

export async function produceUsage(
  producer: Producer<Buffer, Buffer, Buffer, Buffer>,
  topic: string,
  events: UsageEvent[]
): Promise<void> {
  for (let i = 0; i < events.length; i += 5000) {
    await producer.send({
      messages: events.slice(i, i + 5000).map(e => ({
        topic,
        partition: e.partition,
        value: Buffer.from(JSON.stringify({ user: e.user, bytes: e.bytes, ts: e.ts }))
      }))
    })
  }
}
