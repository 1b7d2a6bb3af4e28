// Fixed-size windows, defined as in Kafka Streams, where the grace period must be chosen with
// the windows: `TimeWindows.ofSizeAndGrace(size, grace)` are tumbling windows, and
// `.advanceBy(advance)` makes them hopping.
import { TumblingWindows } from './tumbling-windows.ts'

export const TimeWindows = {
  ofSizeAndGrace(sizeMs: number, graceMs: number): TumblingWindows {
    return new TumblingWindows(sizeMs, graceMs)
  }
}
