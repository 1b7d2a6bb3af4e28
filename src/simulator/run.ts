// Drives a simulation: walks event time second by second, asks the traffic model for each
// second's records and hands them to a sink. Backfill runs as fast as the sink takes them;
// paced runs follow the wall clock (times `speed`), catching up rather than skipping when
// they fall behind, so a paced run from a given second sends exactly the records a backfill
// of the same period would.
import { setTimeout as delay } from 'node:timers/promises'
import { type BadKind } from './bad-records.ts'
import { type BufferedFile, type RecordSink } from './sink.ts'
import { type SimRecord, type Traffic } from './traffic.ts'

export interface SimulateOptions {
  traffic: Traffic
  sink: RecordSink
  /** First event-time second; default: now. */
  from?: number
  /** End of event time (exclusive), in seconds; default: no end. */
  to?: number
  /** Event-time seconds per wall-clock second. Omitted with `to`: backfill as fast as possible. */
  speed?: number
  /** Stop after this many records. */
  events?: number
  /** Receives one JSON line `{"index","kind"}` per bad record. */
  badLog?: BufferedFile
  signal?: AbortSignal
  onProgress?: (progress: SimulateProgress) => void
  /** Milliseconds since the epoch; tests replace it. */
  clock?: () => number
}

export interface SimulateProgress {
  records: number
  bad: number
  /** The event-time second being sent. */
  second: number
  elapsedMs: number
}

export interface SimulateResult extends SimulateProgress {
  badByKind: Partial<Record<BadKind, number>>
  /** True when stopped by the signal rather than by `to` or `events`. */
  interrupted: boolean
}

const PROGRESS_EVERY_MS = 1000

export async function simulate(options: SimulateOptions): Promise<SimulateResult> {
  const clock = options.clock ?? Date.now
  const traffic = options.traffic
  const record = {} as SimRecord
  const started = clock()
  const startMs = options.from !== undefined ? options.from * 1000 : started
  const first = Math.floor(startMs / 1000)
  const end = options.to ?? Infinity
  const limit = options.events ?? Infinity
  const paced = options.speed !== undefined || options.to === undefined
  const speed = options.speed ?? 1
  const { sink, badLog, signal, onProgress } = options
  const badByKind: Partial<Record<BadKind, number>> = {}
  let records = 0
  let bad = 0
  let second = first
  let lastReport = started
  const progress = (): SimulateProgress => ({ records, bad, second, elapsedMs: clock() - started })
  const aborted = (): boolean => signal?.aborted === true
  const report = (): void => {
    const now = clock()
    if (onProgress === undefined || now - lastReport < PROGRESS_EVERY_MS) return
    lastReport = now
    onProgress(progress())
  }

  seconds: for (; second < end && records < limit; second++) {
    if (aborted()) break
    if (paced) {
      // Second s is sent once the simulated clock has reached it.
      const due = started + (second * 1000 - startMs) / speed
      if (due > clock()) {
        await sink.flush()
        report()
        const wait = due - clock()
        if (wait > 0) await delay(wait, undefined, { signal }).catch(() => {})
        if (aborted()) break
      }
    }
    const count = traffic.countAt(second)
    for (let i = 0; i < count; i++) {
      traffic.next(second, record)
      const pending = sink.write(record)
      if (pending !== undefined) await pending
      if (record.bad !== undefined) {
        bad++
        badByKind[record.bad] = (badByKind[record.bad] ?? 0) + 1
        const logged = badLog?.append(`{"index":${record.index},"kind":"${record.bad}"}\n`)
        if (logged !== undefined) await logged
      }
      if (++records >= limit) break seconds
      if ((records & 0xfff) === 0) report()
    }
  }
  await sink.flush()
  await badLog?.flush()
  return { ...progress(), badByKind, interrupted: aborted() }
}
