// Tumbling event-time windows aligned to the epoch: `[start, start + size)`. Like Kafka
// Streams' `TimeWindows.ofSizeAndGrace`, the grace period must be chosen when the windows
// are defined: a window closes once the watermark reaches `end + grace`.
import { UsageError } from '../lib/errors.ts'

export class TimeWindows {
  readonly sizeMs: number
  readonly graceMs: number

  private constructor (sizeMs: number, graceMs: number) {
    this.sizeMs = sizeMs
    this.graceMs = graceMs
  }

  static ofSizeAndGrace (sizeMs: number, graceMs: number): TimeWindows {
    if (!Number.isSafeInteger(sizeMs) || sizeMs <= 0) throw new UsageError(`window size must be a positive whole number of ms, got ${sizeMs}`)
    if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw new UsageError(`window grace must be a whole number of ms ≥ 0, got ${graceMs}`)
    return new TimeWindows(sizeMs, graceMs)
  }

  /** The window's start for a timestamp that is a safe integer (the runtime rejects others). */
  startOf (timestamp: number): number {
    // Division and floor rather than `%`: on numbers beyond 31 bits V8 makes `%` a call to
    // fmod, several times slower, and this runs for every record of every windowed
    // aggregation. Exact: below 2^53 the quotient's rounding error is under 1/size, so it
    // never crosses a whole number.
    return Math.floor(timestamp / this.sizeMs) * this.sizeMs
  }

  /** The watermark at which the window starting at `start` closes. */
  closesAt (start: number): number {
    return start + this.sizeMs + this.graceMs
  }

  /**
   * Whether the window starting at `start` has closed for a partition whose stream time is
   * `streamTime` (its `end + grace` is reached there): an event in it is late.
   */
  isClosed (start: number, streamTime: number): boolean {
    return this.closesAt(start) <= streamTime
  }
}
