// Windowed aggregation DSL: aggregate, reduce, count and sum over windows of any kind
// (windows/). The result emits each window's final value once, when the watermark passes
// end + grace, to topics and/or sinks; a watch sees the windows still open as they change.
import { int64Serde, type Serde } from '../lib/serdes.ts'
import { UsageError } from '../lib/errors.ts'
import type { NodeSpec } from './processor.ts'
import type { Windows } from './windows/windows.ts'
import type { Aggregation, WindowOutput, WindowSink } from './aggregation.ts'
import { aggregateNode } from './nodes/aggregate-node.ts'
import type { TopologyBuilder } from './builder.ts'

export interface AggregateOptions<K, V, A> {
  /** Unique name; it names the internal partials topic and the window store. */
  name: string
  init: () => A
  adder: (key: K, value: V, aggregate: A) => A
  /** Merges two partials of one window and key (two-phase aggregation); must be associative. */
  merger: (key: K, left: A, right: A) => A
  serde: Serde<A>
}

export interface ReduceOptions<V> {
  /** Unique name; it names the internal partials topic and the window store. */
  name: string
  /** Combines two values; must be associative (it also merges partials). */
  reducer: (left: V, right: V) => V
  serde: Serde<V>
}

export class WindowedStream<K, V> {
  readonly #builder: TopologyBuilder
  readonly #node: NodeSpec
  readonly #keyOf: (key: unknown, value: V) => K
  readonly #key: Serde<K>
  readonly #identity: (key: K) => string
  readonly #windows: Windows

  constructor(
    builder: TopologyBuilder,
    node: NodeSpec,
    keyOf: (key: unknown, value: V) => K,
    key: Serde<K>,
    identity: (key: K) => string,
    windows: Windows
  ) {
    this.#builder = builder
    this.#node = node
    this.#keyOf = keyOf
    this.#key = key
    this.#identity = identity
    this.#windows = windows
  }

  aggregate<A>(options: AggregateOptions<K, V, A>): WindowedTable<K, A> {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(options.name))
      throw new UsageError(`aggregation name must be lower-case letters, digits and dashes, got '${options.name}'`)
    const aggregation: Aggregation<K, V, A> = {
      name: options.name,
      windows: this.#windows,
      keyOf: this.#keyOf,
      key: this.#key,
      identity: this.#identity,
      init: options.init,
      adder: options.adder,
      merger: options.merger,
      value: options.serde,
      outputs: [],
      watches: []
    }
    this.#builder.addAggregation(aggregation as Aggregation<unknown, unknown, unknown>)
    this.#node.children.push(aggregateNode(aggregation))
    return new WindowedTable(aggregation)
  }

  /** Combines a window's values with an associative reducer, which also merges partials: a window's first value starts it. */
  reduce(options: ReduceOptions<V>): WindowedTable<K, V> {
    const { name, reducer, serde } = options
    // A partial is made when its first value arrives, so the placeholder never leaves the task.
    const none = undefined as V
    return this.aggregate<V>({
      name,
      init: () => none,
      adder: (_k, value, agg) => (agg === none ? value : reducer(agg, value)),
      merger: (_k, l, r) => reducer(l, r),
      serde
    })
  }

  /** The number of records per window and key. */
  count(options: { name: string }): WindowedTable<K, number> {
    return this.aggregate<number>({
      name: options.name,
      init: () => 0,
      adder: (_k, _v, n) => n + 1,
      merger: (_k, l, r) => l + r,
      serde: int64Serde
    })
  }

  /** The sum of `of(value)` (a whole number) per window and key. */
  sum(options: { name: string; of: (value: V) => number }): WindowedTable<K, number> {
    const { name, of } = options
    return this.aggregate<number>({
      name,
      init: () => 0,
      adder: (_k, value, sum) => sum + of(value),
      merger: (_k, l, r) => l + r,
      serde: int64Serde
    })
  }
}

export class WindowedTable<K, A> {
  readonly #aggregation: Aggregation<K, never, A>

  constructor(aggregation: Aggregation<K, never, A>) {
    this.#aggregation = aggregation
  }

  get name(): string {
    return this.#aggregation.name
  }

  /** Produces each final window to `topic`: key = the group key, value = the aggregate; headers carry the window bounds. */
  to(topic: string, serdes: { key: Serde<K>; value: Serde<A> }): this {
    this.#aggregation.outputs.push({ kind: 'topic', topic, key: serdes.key, value: serdes.value })
    return this
  }

  /**
   * Shows every window that changed since the last commit to `check`, while it is open; what
   * `check` returns replaces the aggregate and is emitted (to the returned outputs), exactly once.
   */
  watch(name: string, check: (key: K, start: number, value: A) => A | undefined): WindowOutputsBuilder<K, A> {
    // A watch may replace a window's stored aggregate; assembled windows store no window,
    // only the points they are made of.
    if (this.#aggregation.windows.assembly !== undefined)
      throw new UsageError(
        `watch needs fixed windows; ${this.#aggregation.windows.kind} windows are assembled when they close`
      )
    const watch = { name, check, outputs: [] }
    this.#aggregation.watches.push(watch)
    return new WindowOutputsBuilder(watch.outputs)
  }

  /** Hands each final window to a sink (one per owner task, created by `create`), flushed before every commit. */
  toSink(name: string, create: () => WindowSink<K, A>): this {
    this.#aggregation.outputs.push({ kind: 'sink', name, create })
    return this
  }
}

/** Where a watch's emissions go. */
export class WindowOutputsBuilder<K, A> {
  readonly #outputs: WindowOutput<K, A>[]

  constructor(outputs: WindowOutput<K, A>[]) {
    this.#outputs = outputs
  }

  to(topic: string, serdes: { key: Serde<K>; value: Serde<A> }): this {
    this.#outputs.push({ kind: 'topic', topic, key: serdes.key, value: serdes.value })
    return this
  }

  toSink(name: string, create: () => WindowSink<K, A>): this {
    this.#outputs.push({ kind: 'sink', name, create })
    return this
  }
}
