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

  startOf (timestamp: number): number {
    return timestamp - mod(timestamp, this.sizeMs)
  }

  /** The watermark at which the window starting at `start` closes. */
  closesAt (start: number): number {
    return start + this.sizeMs + this.graceMs
  }

  /**
   * Whether an event at `timestamp` is late for a partition whose stream time is
   * `streamTime`: its window's `end + grace` has already been reached there.
   */
  isLate (timestamp: number, streamTime: number): boolean {
    return this.closesAt(this.startOf(timestamp)) <= streamTime
  }
}

function mod (a: number, b: number): number {
  return ((a % b) + b) % b
}
