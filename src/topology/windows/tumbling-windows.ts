// Tumbling windows: of a fixed size, back to back, aligned to the epoch: each record falls
// into exactly one, `[floor(t / size) * size, + size)`.
import { HoppingWindows } from './hopping-windows.ts'

export class TumblingWindows extends HoppingWindows {
  override readonly kind = 'tumbling'

  constructor(sizeMs: number, graceMs: number) {
    super(sizeMs, sizeMs, graceMs)
  }

  override startsOf(timestamp: number, out: number[]): number {
    out[0] = Math.floor(timestamp / this.sizeMs) * this.sizeMs
    return 1
  }

  /** The same windows, starting every `advanceMs` instead: hopping windows. */
  advanceBy(advanceMs: number): HoppingWindows {
    return new HoppingWindows(this.sizeMs, advanceMs, this.graceMs)
  }
}
