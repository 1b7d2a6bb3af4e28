// Sliding windows, as Kafka Streams' `SlidingWindows`: windows of a fixed time difference d
// that exist where a key's records are. A window is `[start, start + d]`, both ends
// inclusive (reported, like every window here, with the exclusive end start + d + 1). A
// key's windows are, for each of its record times t:
// - the window ending at the record, `[t - d, t]`;
// - the window starting just after it, `[t + 1, t + d + 1]`, when it holds a record.
// Each distinct window is emitted once, with the aggregate of the key's records in it.
// Windows never start before 0: the records of the first d ms of the epoch share `[0, d]`,
// as in Kafka Streams.
import { UsageError } from '../../lib/errors.ts'
import type { AssembledWindows, WindowAssembly } from './windows.ts'

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
    this.assembly = { reach: time => this.#reach(time), windows: (times, bound) => this.#windows(times, bound) }
  }

  endOf(start: number): number {
    return start + this.timeDifferenceMs + 1
  }

  lastClosedStart(watermark: number): number {
    return watermark - this.timeDifferenceMs - 1 - this.graceMs
  }

  // A point at t is in the windows starting from t - d to t; it makes its own window
  // (t - d) and the one after it (t + 1), and may make an earlier point's window after
  // (starting in [t - d, t]) exist.
  #reach(time: number): { first: number; last: number } {
    return { first: Math.max(0, time - this.timeDifferenceMs), last: time + 1 }
  }

  #windows(times: readonly number[], bound: number): Array<{ start: number; from: number; to: number }> {
    const d = this.timeDifferenceMs
    const starts: number[] = []
    for (let i = 0; i < times.length; i++) {
      const time = times[i]!
      const ending = Math.max(0, time - d)
      if (ending <= bound) starts.push(ending)
      const next = times[i + 1]
      if (next !== undefined && next <= time + d + 1 && time + 1 <= bound) starts.push(time + 1)
    }
    starts.sort((a, b) => a - b)
    const windows: Array<{ start: number; from: number; to: number }> = []
    let from = 0
    let to = 0
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i]!
      if (i > 0 && start === starts[i - 1]) continue
      while (times[from]! < start) from++
      if (to < from) to = from
      while (to < times.length && times[to]! <= start + d) to++
      windows.push({ start, from, to })
    }
    return windows
  }
}
