// The typed stream DSL. Each method adds a node spec below this stream's node and returns
// the stream of its output; nothing runs until a runtime or the test driver executes the
// built topology.
import type { Serde } from '../lib/serdes.ts'
import type { NodeSpec } from './processor.ts'
import type { GlobalTable } from './global-table.ts'
import type { Windows } from './windows/windows.ts'
import { filterNode } from './nodes/filter-node.ts'
import { mapNode } from './nodes/map-node.ts'
import { flatMapNode } from './nodes/flat-map-node.ts'
import { peekNode } from './nodes/peek-node.ts'
import { joinNode } from './nodes/join-node.ts'
import { branchNode } from './nodes/branch-node.ts'
import { sinkNode, type SinkSerdes } from './nodes/sink-node.ts'
import { recordSinkNode } from './nodes/record-sink-node.ts'
import type { RecordSink } from './processor.ts'
import { WindowedStream } from './windowed-stream.ts'
import type { TopologyBuilder } from './builder.ts'

export interface KeyValue<K, V> {
  key: K
  value: V
}

export class KStream<K, V> {
  readonly #builder: TopologyBuilder
  readonly #node: NodeSpec

  constructor(builder: TopologyBuilder, node: NodeSpec) {
    this.#builder = builder
    this.#node = node
  }

  #add<K2, V2>(prefix: string, make: (name: string) => NodeSpec): KStream<K2, V2> {
    const node = make(this.#builder.nodeName(prefix))
    this.#node.children.push(node)
    return new KStream<K2, V2>(this.#builder, node)
  }

  filter(predicate: (key: K, value: V) => boolean): KStream<K, V> {
    return this.#add('filter', name => filterNode(name, predicate))
  }

  map<K2, V2>(mapper: (key: K, value: V) => KeyValue<K2, V2>): KStream<K2, V2> {
    return this.#add('map', name => mapNode(name, mapper))
  }

  mapValues<V2>(mapper: (value: V, key: K) => V2): KStream<K, V2> {
    return this.#add('map-values', name =>
      mapNode<K, V, K, V2>(name, (key, value) => ({ key, value: mapper(value, key) }))
    )
  }

  flatMap<K2, V2>(mapper: (key: K, value: V) => Iterable<KeyValue<K2, V2>>): KStream<K2, V2> {
    return this.#add('flat-map', name => flatMapNode(name, mapper))
  }

  peek(action: (key: K, value: V) => void): KStream<K, V> {
    return this.#add('peek', name => peekNode(name, action))
  }

  /** Inner join: records whose table key has no entry are dropped. */
  join<TK, TV, R>(
    table: GlobalTable<TK, TV>,
    keyOf: (key: K, value: V) => TK,
    joiner: (value: V, match: TV) => R
  ): KStream<K, R> {
    return this.#add('join', name =>
      joinNode<K, V, TK, TV, R>(name, table.topic, keyOf, (value, match) => joiner(value, match as TV), false)
    )
  }

  /** Left join: records whose table key has no entry go on with `undefined`. */
  leftJoin<TK, TV, R>(
    table: GlobalTable<TK, TV>,
    keyOf: (key: K, value: V) => TK,
    joiner: (value: V, match: TV | undefined) => R
  ): KStream<K, R> {
    return this.#add('left-join', name => joinNode<K, V, TK, TV, R>(name, table.topic, keyOf, joiner, true))
  }

  /** One stream per predicate; a record goes to the first branch whose predicate holds, or nowhere. */
  branch(...predicates: Array<(key: K, value: V) => boolean>): Array<KStream<K, V>> {
    const node = branchNode(this.#builder.nodeName('branch'), predicates)
    this.#node.children.push(node)
    return predicates.map((_, i) => {
      const passthrough = mapNode<K, V, K, V>(`${node.name}-${i}`, (key, value) => ({ key, value }))
      node.children.push(passthrough)
      return new KStream<K, V>(this.#builder, passthrough)
    })
  }

  /** Hands each record to a sink (one instance per task, from `create`), flushed before every commit. */
  toSink(name: string, create: () => RecordSink<K, V>): void {
    this.#add(name, () => recordSinkNode(name, create))
  }

  /** Produces each record to `topic`, inside the commit's transaction. */
  to(topic: string, serdes: SinkSerdes<K, V>): void {
    this.#add('to', name => sinkNode(name, topic, serdes))
  }

  /**
   * Groups the stream by a key for aggregation; records of one key may come from any
   * partition. The key is computed by the aggregation itself, so grouping costs no record copy.
   */
  groupBy<K2>(
    keyOf: (key: K, value: V) => K2,
    key: Serde<K2>,
    identity: (key: K2) => string = defaultIdentity
  ): GroupedStream<K2, V> {
    return new GroupedStream(this.#builder, this.#node, keyOf as (key: unknown, value: V) => K2, key, identity)
  }
}

export class GroupedStream<K, V> {
  readonly #builder: TopologyBuilder
  readonly #node: NodeSpec
  readonly #keyOf: (key: unknown, value: V) => K
  readonly #key: Serde<K>
  readonly #identity: (key: K) => string

  constructor(
    builder: TopologyBuilder,
    node: NodeSpec,
    keyOf: (key: unknown, value: V) => K,
    key: Serde<K>,
    identity: (key: K) => string
  ) {
    this.#builder = builder
    this.#node = node
    this.#keyOf = keyOf
    this.#key = key
    this.#identity = identity
  }

  /** Windows of any kind: `TimeWindows.ofSizeAndGrace(size, grace)` (tumbling), `.advanceBy(advance)` (hopping), or another `Windows`. */
  windowedBy(windows: Windows): WindowedStream<K, V> {
    return new WindowedStream<K, V>(this.#builder, this.#node, this.#keyOf, this.#key, this.#identity, windows)
  }
}

function defaultIdentity(key: unknown): string {
  return typeof key === 'string' ? key : JSON.stringify(key)
}
