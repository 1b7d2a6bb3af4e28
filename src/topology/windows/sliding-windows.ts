// Sliding windows, as Kafka Streams' `SlidingWindows`: windows of a fixed time difference d
// that exist where a key's records are. A window is `[start, start + d]`, both ends
// inclusive (reported, like every window here, with the exclusive end start + d + 1), and
// closes when the watermark passes its last millisecond by the grace. A key's windows are,
// for each of its record times t:
// - the window ending at the record, `[t - d, t]`;
// - the window starting just after it, `[t + 1, t + d + 1]`, when it holds a record.
// Each distinct window is emitted once, with the aggregate of the key's records in it.
// Windows never start before 0: the records of the first d ms of the epoch share `[0, d]`,
// as in Kafka Streams.
import { UsageError } from '../../lib/errors.ts'
import type { AssembledWindow, AssembledWindows, WindowAssembly } from './windows.ts'

export class SlidingWindows implements AssembledWindows {
  readonly kind = 'sliding'
  readonly timeDifferenceMs: number
  readonly graceMs: number
  readonly assembly: WindowAssembly

  /** Windows of `timeDifferenceMs` (its records at most that far apart) that wait `graceMs` for late records. */
  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): SlidingWindows {
    return new SlidingWindows(timeDifferenceMs, graceMs)
  }

  constructor(timeDifferenceMs: number, graceMs: number) {
    if (!Number.isSafeInteger(timeDifferenceMs) || timeDifferenceMs < 0)
      throw new UsageError(`window time difference must be a whole number of ms ≥ 0, got ${timeDifferenceMs}`)
    if (!Number.isSafeInteger(graceMs) || graceMs < 0)
      throw new UsageError(`window grace must be a whole number of ms ≥ 0, got ${graceMs}`)
    this.timeDifferenceMs = timeDifferenceMs
    this.graceMs = graceMs
    const d = timeDifferenceMs
    this.assembly = {
      // Late once the first window it would be in, the one ending at it, has closed.
      lateness: time => {
        const start = Math.max(0, time - d)
        return { at: this.#closesAt(start), start }
      },
      windows: times => this.#windows(times),
      // A window the watermark closes starts at most at watermark - d - 1 - grace, holds
      // points up to d later, and is made by one at most d + 1 later than its point before.
      neededBefore: watermark => watermark - graceMs,
      // A point is in the windows starting from t - d to t, and makes the one starting at
      // t + 1: once that one has closed for good, no window needs it.
      forgettable: (times, _windows, strict) => {
        let n = 0
        while (n < times.length && this.#closesAt(times[n]! + 1) <= strict) n++
        return n
      }
    }
  }

  #closesAt(start: number): number {
    return start + this.timeDifferenceMs + 1 + this.graceMs
  }

  #windows(times: readonly number[]): AssembledWindow[] {
    const d = this.timeDifferenceMs
    const starts: number[] = []
    for (let i = 0; i < times.length; i++) {
      const time = times[i]!
      starts.push(Math.max(0, time - d))
      const next = times[i + 1]
      if (next !== undefined && next <= time + d + 1) starts.push(time + 1)
    }
    starts.sort((a, b) => a - b)
    const windows: AssembledWindow[] = []
    let from = 0
    let to = 0
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i]!
      if (i > 0 && start === starts[i - 1]) continue
      while (times[from]! < start) from++
      if (to < from) to = from
      while (to < times.length && times[to]! <= start + d) to++
      // The point just before the window, if any, is the one whose window after it this is.
      const affectedFrom = from > 0 && times[from - 1] === start - 1 ? from - 1 : from
      windows.push({ start, end: start + d + 1, from, to, affectedFrom, closesAt: this.#closesAt(start) })
    }
    return windows
  }
}
