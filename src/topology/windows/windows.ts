// What a kind of window is, as the engine uses it. A window is `[start, end)` in event time;
// it closes once the watermark reaches `end + grace`. Adding a kind is adding a file that
// implements this (tumbling-windows.ts, hopping-windows.ts, sliding-windows.ts): the
// aggregation node and the owner task ask only these questions.
//
// Two families. Fixed windows (tumbling, hopping) exist whatever the records: a record's
// partial goes straight to each window it falls in. Assembled windows (sliding) are defined
// by the records' own timestamps, so no source can tell which windows a record is in: a
// record's partial goes to its point (key, timestamp), and the owner assembles each window
// from the points in it when the window closes.

interface WindowsBase {
  /** The kind, for errors and docs. */
  readonly kind: string
  /** How long a window waits for out-of-order records after its end, in ms. */
  readonly graceMs: number
  /** The end (exclusive) of the window that starts at `start`. */
  endOf(start: number): number
  /** The latest start of a window closed by `watermark` (its end + grace ≤ watermark): windows up to it are final. */
  lastClosedStart(watermark: number): number
}

export interface FixedWindows extends WindowsBase {
  /**
   * The starts of the windows a record at `timestamp` (a safe integer) belongs to, newest
   * first, written into `out` (reused for every record: this runs once per record); returns
   * how many.
   */
  startsOf(timestamp: number, out: number[]): number
  readonly assembly?: undefined
}

export interface AssembledWindows extends WindowsBase {
  readonly assembly: WindowAssembly
}

export type Windows = FixedWindows | AssembledWindows

/** How the owner makes windows out of one key's points. */
export interface WindowAssembly {
  /**
   * The starts of the first and the last window a point at `time` can change: the windows it
   * is in, and those whose existence it decides. A record is late when the first has closed
   * in its partition; the owner forgets a point once the last has closed for good.
   */
  reach(time: number): { first: number; last: number }
  /**
   * The windows that one key's points make (`times`: their timestamps, ascending, distinct)
   * with a start at or before `bound`, in start order, each with the index range
   * `[from, to)` of the points it holds (never empty).
   */
  windows(times: readonly number[], bound: number): Array<{ start: number; from: number; to: number }>
}

/** The watermark at which the window starting at `start` closes. */
export function closesAt(windows: Windows, start: number): number {
  return windows.endOf(start) + windows.graceMs
}
