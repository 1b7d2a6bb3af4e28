// What a kind of window is, as the engine uses it. A window is `[start, end)` in event time.
// Adding a kind is adding a file that implements this (tumbling-windows.ts,
// hopping-windows.ts, sliding-windows.ts, session-windows.ts): the aggregation node and the
// owner task ask only these questions.
//
// Two families. Fixed windows (tumbling, hopping) exist whatever the records: a record's
// partial goes straight to each window it falls in, and a window closes once the watermark
// reaches its end + grace. Assembled windows (sliding, session) are defined by the records'
// own timestamps, so no source can tell which windows a record is in: a record's partial
// goes to its point (key, timestamp), and the owner assembles each window from the points in
// it when the window closes.

interface WindowsBase {
  /** The kind, for errors and docs. */
  readonly kind: string
  /** How long a window waits for out-of-order records after its end, in ms. */
  readonly graceMs: number
}

export interface FixedWindows extends WindowsBase {
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
  readonly assembly?: undefined
}

export interface AssembledWindows extends WindowsBase {
  readonly assembly: WindowAssembly
}

export type Windows = FixedWindows | AssembledWindows

/** One window assembled from one key's points (indexes into its ascending times). */
export interface AssembledWindow {
  start: number
  /** Exclusive. */
  end: number
  /** The points it holds: `[from, to)`, never empty. */
  from: number
  to: number
  /** The points whose change changes it (those it holds, and any whose presence makes it): `[affectedFrom, to)`. */
  affectedFrom: number
  /** The watermark from which no record can change it any more. */
  closesAt: number
}

/** How the owner makes windows out of one key's points. */
export interface WindowAssembly {
  /**
   * When a record at `time` is late (from which stream time of its partition), and the
   * window start the late topic names for it. A record that is not late can only change
   * windows still open in every partition.
   */
  lateness(time: number): { at: number; start: number }
  /** Every window of one key's points (`times`: ascending, distinct), in start order. */
  windows(times: readonly number[]): AssembledWindow[]
  /** Points at or after this time are in no window `watermark` closes, and make none. */
  neededBefore(watermark: number): number
  /** How many of a key's first points no window can need once the strict watermark is `strict`. */
  forgettable(times: readonly number[], windows: readonly AssembledWindow[], strict: number): number
}

/** The watermark at which the fixed window starting at `start` closes. */
export function closesAt(windows: FixedWindows, start: number): number {
  return windows.endOf(start) + windows.graceMs
}
