// Session windows, as Kafka Streams' `SessionWindows`: a key's records whose timestamps are
// at most the inactivity gap apart form one session, `[first, last]` (both ends inclusive,
// reported with the exclusive end last + 1); a record that falls within the gap of two
// sessions merges them. A session can grow until no record could join it any more: it
// closes when the watermark passes its last record + gap by the grace, and is then emitted
// once, with the aggregate of its records.
import { UsageError } from '../../lib/errors.ts'
import type { AssembledWindow, AssembledWindows, WindowAssembly } from './windows.ts'

export class SessionWindows implements AssembledWindows {
  readonly kind = 'session'
  readonly inactivityGapMs: number
  readonly graceMs: number
  readonly assembly: WindowAssembly

  /** Sessions of records at most `inactivityGapMs` apart, which wait `graceMs` for late records. */
  static ofInactivityGapAndGrace(inactivityGapMs: number, graceMs: number): SessionWindows {
    return new SessionWindows(inactivityGapMs, graceMs)
  }

  constructor(inactivityGapMs: number, graceMs: number) {
    if (!Number.isSafeInteger(inactivityGapMs) || inactivityGapMs <= 0)
      throw new UsageError(`session inactivity gap must be a positive whole number of ms, got ${inactivityGapMs}`)
    if (!Number.isSafeInteger(graceMs) || graceMs < 0)
      throw new UsageError(`window grace must be a whole number of ms ≥ 0, got ${graceMs}`)
    this.inactivityGapMs = inactivityGapMs
    this.graceMs = graceMs
    this.assembly = {
      // A record at t can only join sessions that end at t - gap or later, so sessions that
      // close at t + 1 + grace or later: once its partition is past that, it is late (and
      // any session it could have joined may have been emitted).
      lateness: time => ({ at: time + 1 + graceMs, start: time }),
      windows: times => this.#windows(times),
      // A closed session ends at most at watermark - 1 - gap - grace; a point within the gap
      // after it would have been part of it.
      neededBefore: watermark => watermark - graceMs,
      // The points of the sessions that closed for good: no record can join them any more.
      forgettable: (_times, windows, strict) => {
        let n = 0
        for (const window of windows) {
          if (window.closesAt > strict) break
          n = window.to
        }
        return n
      }
    }
  }

  #windows(times: readonly number[]): AssembledWindow[] {
    const windows: AssembledWindow[] = []
    let from = 0
    for (let i = 1; i <= times.length; i++) {
      if (i < times.length && times[i]! - times[i - 1]! <= this.inactivityGapMs) continue
      const end = times[i - 1]! + 1
      windows.push({
        start: times[from]!,
        end,
        from,
        to: i,
        affectedFrom: from,
        closesAt: end + this.inactivityGapMs + this.graceMs
      })
      from = i
    }
    return windows
  }
}
