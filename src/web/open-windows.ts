// The windows still open. Their totals live in the stream instances' window stores until they
// close, and reach `bytes` only then, so the tables cannot show them.
//
// The seam: an OpenWindowsSource says which 5-minute windows are open after the newest closed
// one and, when it can, their totals so far. The dashboard shows what it returns and needs
// nothing else. InstanceOpenWindows asks the running instances (their interactive queries,
// src/web/queries.ts); WallClockOpenWindows is its guess when none answers.
import type { TotalType } from '../traffic/types.ts'
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
  openWindows(latestClosed: number | undefined, now: number): Promise<OpenWindow[]>
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
  async openWindows(latestClosed: number | undefined, now: number): Promise<OpenWindow[]> {
    if (latestClosed === undefined) return []
    const current = now - (now % WINDOW_SECONDS)
    const count = (current - latestClosed) / WINDOW_SECONDS
    if (count < 1 || count > MAX_OPEN) return []
    return Array.from({ length: count }, (_, i) => ({
      start: latestClosed + (i + 1) * WINDOW_SECONDS,
      totals: undefined
    }))
  }
}

/** A window as an instance's `GET /windows/<aggregation>` returns it (src/runtime/queries.ts). */
interface HeldWindow {
  key: unknown
  start: number
  value: unknown
  emitted: boolean
}

const TIMEOUT_MS = 2000

/**
 * The open windows the instances hold, with their totals so far, and the windows the wall
 * clock says are open besides (still empty: no event reached them). Any instance answers for
 * every instance (it asks the others); when none answers, the wall clock's guess, totals
 * unknown.
 */
export class InstanceOpenWindows implements OpenWindowsSource {
  readonly #instances: () => Promise<readonly string[]>
  readonly #aggregations: Partial<Record<TotalType, string>>
  readonly #guess = new WallClockOpenWindows()

  /** `aggregations`: the aggregation behind each total type, e.g. app_total_bytes → app-bytes. */
  constructor(instances: () => Promise<readonly string[]>, aggregations: Partial<Record<TotalType, string>>) {
    this.#instances = instances
    this.#aggregations = aggregations
  }

  async openWindows(latestClosed: number | undefined, now: number): Promise<OpenWindow[]> {
    const guessed = await this.#guess.openWindows(latestClosed, now)
    const urls = await this.#instances()
    const held = new Map<number, Partial<Record<TotalType, Map<string, number>>>>()
    for (const [type, aggregation] of Object.entries(this.#aggregations) as Array<[TotalType, string]>) {
      const windows = await firstAnswer(urls, aggregation)
      if (windows === undefined) return guessed
      for (const window of windows) {
        const start = window.start / 1000
        if (window.emitted || (latestClosed !== undefined && start <= latestClosed) || typeof window.value !== 'number')
          continue
        let totals = held.get(start)
        if (totals === undefined) held.set(start, (totals = {}))
        const ofType = (totals[type] ??= new Map())
        ofType.set(String(window.key), (ofType.get(String(window.key)) ?? 0) + window.value)
      }
    }
    for (const window of guessed) if (!held.has(window.start)) held.set(window.start, {})
    return [...held].sort(([a], [b]) => a - b).map(([start, totals]) => ({ start, totals }))
  }
}

/** Every window of the aggregation, from the first instance that answers for all of them. */
async function firstAnswer(urls: readonly string[], aggregation: string): Promise<HeldWindow[] | undefined> {
  for (const url of urls) {
    try {
      const response = await fetch(new URL(`/windows/${encodeURIComponent(aggregation)}`, url), {
        signal: AbortSignal.timeout(TIMEOUT_MS)
      })
      // 206: some instance did not answer, so some keys would be missing.
      if (response.status === 200) return (await response.json()) as HeldWindow[]
    } catch {
      // the next instance may answer
    }
  }
  return undefined
}
