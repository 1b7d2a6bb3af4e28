// The windows still open. Their totals live in the stream instances' window stores until they
// close, and reach `bytes` only then, so the tables cannot show them.
//
// The seam: an OpenWindowsSource says which 5-minute windows are open after the newest closed
// one and, when it can, their totals so far. The dashboard shows what it returns and needs
// nothing else. A source that asks the running instances for their stores' open windows
// (interactive queries) replaces WallClockOpenWindows here, in the `web` command's wiring.
import type { TotalType } from '../sinks/bytes-table.ts'
import { WINDOW_SECONDS } from './tables-source.ts'

export interface OpenWindow {
  /** Window start, epoch seconds. */
  start: number
  /**
   * Totals so far per type and id, summed over every instance (a window's keys are spread over
   * the owners of its partitions), or undefined when they cannot be read.
   */
  totals: Partial<Record<TotalType, ReadonlyMap<string, number>>> | undefined
}

export interface OpenWindowsSource {
  /**
   * The open windows after `latestClosed` (start of the newest window in `bytes`, epoch
   * seconds; undefined before any closed), oldest first, as of `now` (epoch seconds).
   */
  openWindows (latestClosed: number | undefined, now: number): Promise<OpenWindow[]>
}

// A live pipeline has at most the current window and the one waiting out its grace period
// open, and one more while a commit is on its way.
const MAX_OPEN = 3

/**
 * Without access to the stores: when the newest closed window is recent, the windows from the
 * next one up to the wall clock's are open, with unknown totals. When it is older (a replay
 * of history, or a backlog) no window is shown as open, since which ones are cannot be told.
 */
export class WallClockOpenWindows implements OpenWindowsSource {
  async openWindows (latestClosed: number | undefined, now: number): Promise<OpenWindow[]> {
    if (latestClosed === undefined) return []
    const current = now - now % WINDOW_SECONDS
    const count = (current - latestClosed) / WINDOW_SECONDS
    if (count < 1 || count > MAX_OPEN) return []
    return Array.from({ length: count }, (_, i) => ({ start: latestClosed + (i + 1) * WINDOW_SECONDS, totals: undefined }))
  }
}
