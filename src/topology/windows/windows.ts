// What a kind of window is, as the engine uses it. A window is `[start, end)` in event time;
// it closes once the watermark reaches `end + grace`. Adding a kind is adding a file that
// implements this (tumbling-windows.ts, hopping-windows.ts): the aggregation node and the
// owner task ask only these questions.

export interface Windows {
  /** The kind, for errors and docs. */
  readonly kind: string
  /** How long a window waits for out-of-order records after its end, in ms. */
  readonly graceMs: number
  /**
   * The starts of the windows a record at `timestamp` (a safe integer) belongs to, newest
   * first, written into `out` (reused for every record: this runs once per record); returns
   * how many.
   */
  startsOf(timestamp: number, out: number[]): number
  /** The end (exclusive) of the window that starts at `start`. */
  endOf(start: number): number
  /** The latest start of a window closed by `watermark` (its end + grace ≤ watermark): windows up to it are final. */
  lastClosedStart(watermark: number): number
}

/** The watermark at which the window starting at `start` closes. */
export function closesAt(windows: Windows, start: number): number {
  return windows.endOf(start) + windows.graceMs
}
