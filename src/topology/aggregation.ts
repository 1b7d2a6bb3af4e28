// A windowed aggregation as the runtime sees it: how to fold records into a partial on the
// source side, how to merge partials on the owner side, and where final windows go.
import type { Serde } from '../lib/serdes.ts'
import type { Windows } from './windows/windows.ts'
import type { Refusal, WindowedRecord } from './records.ts'

/** Where the final value of each closed window goes. */
export interface WindowSink<K, A> {
  /** Takes windows as they close (the runtime looks about every 100 ms, and at each commit). */
  add(records: WindowedRecord<K, A>[]): void
  /**
   * Makes everything added before the call durable. The runtime calls it right after windows
   * close and at each commit, which waits for it; windows added while it runs belong to the
   * next call. Must be idempotent: after a crash, a replay adds the same windows again.
   * Windows the destination refuses for their data (a constraint, a value out of range) are
   * returned, not thrown: they go to the dead-letter topic and everything else commits. An
   * outage (the destination unreachable) throws, and the commit is retried.
   */
  flush(): Promise<Array<Refusal<WindowedRecord<K, A>>> | void>
}

export type WindowOutput<K, A> =
  | { kind: 'topic'; topic: string; key: Serde<K>; value: Serde<A> }
  | { kind: 'sink'; name: string; create: () => WindowSink<K, A> }

/**
 * Watches an aggregation's open windows: as windows close (and at each commit), every window that changed is shown
 * to `check`; a value it returns replaces the stored aggregate (so a decision such as "alert
 * sent" is kept with the state, exactly once) and is emitted to the watch's outputs.
 */
export interface WindowWatch<K, A> {
  name: string
  check: (key: K, start: number, value: A) => A | undefined
  outputs: WindowOutput<K, A>[]
}

export interface Aggregation<K, V, A> {
  /** Unique within the topology; names the internal topics and stores. */
  name: string
  windows: Windows
  /** The group key of a record (from groupBy). */
  keyOf: (key: unknown, value: V) => K
  key: Serde<K>
  /** A string equal exactly when keys are equal (for in-memory maps). */
  identity: (key: K) => string
  init: () => A
  adder: (key: K, value: V, aggregate: A) => A
  /** Combines two partial aggregates of the same window and key; must be associative. */
  merger: (key: K, left: A, right: A) => A
  value: Serde<A>
  outputs: WindowOutput<K, A>[]
  watches: WindowWatch<K, A>[]
}
