// Hopping windows: of a fixed size, starting every `advance` (aligned to the epoch), so a
// record falls into size / advance windows at once (rounded up). A 1-hour window advancing
// every 5 minutes is the last hour, every 5 minutes. Tumbling windows are the case
// advance = size.
import { UsageError } from '../../lib/errors.ts'
import type { FixedWindows } from './windows.ts'

export class HoppingWindows implements FixedWindows {
  readonly kind: string = 'hopping'
  readonly sizeMs: number
  readonly advanceMs: number
  readonly graceMs: number

  constructor(sizeMs: number, advanceMs: number, graceMs: number) {
    if (!Number.isSafeInteger(sizeMs) || sizeMs <= 0)
      throw new UsageError(`window size must be a positive whole number of ms, got ${sizeMs}`)
    if (!Number.isSafeInteger(advanceMs) || advanceMs <= 0 || advanceMs > sizeMs)
      throw new UsageError(
        `window advance must be a whole number of ms from 1 to the size (${sizeMs}), got ${advanceMs}`
      )
    if (!Number.isSafeInteger(graceMs) || graceMs < 0)
      throw new UsageError(`window grace must be a whole number of ms ≥ 0, got ${graceMs}`)
    this.sizeMs = sizeMs
    this.advanceMs = advanceMs
    this.graceMs = graceMs
  }

  startsOf(timestamp: number, out: number[]): number {
    // Division and floor rather than `%`: on numbers beyond 31 bits V8 makes `%` a call to
    // fmod, several times slower, and this runs for every record of every windowed
    // aggregation. Exact: below 2^53 the quotient's rounding error is under 1/advance, so it
    // never crosses a whole number.
    let start = Math.floor(timestamp / this.advanceMs) * this.advanceMs
    let n = 0
    for (; start > timestamp - this.sizeMs; start -= this.advanceMs) out[n++] = start
    return n
  }

  endOf(start: number): number {
    return start + this.sizeMs
  }

  lastClosedStart(watermark: number): number {
    return watermark - this.sizeMs - this.graceMs
  }
}
