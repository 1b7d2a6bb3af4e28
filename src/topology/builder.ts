// Entry point of the DSL: declares input streams and global tables, then builds the
// topology that a runtime executes.
import type { Serde } from '../lib/serdes.ts'
import { UsageError } from '../lib/errors.ts'
import { KStream } from './kstream.ts'
import { GlobalTable } from './global-table.ts'
import { forward, type NodeSpec } from './processor.ts'
import type { Aggregation } from './aggregation.ts'
import type { GlobalTableSpec, SourceSpec, Topology } from './topology.ts'

export interface StreamOptions<K, V> {
  key?: Serde<K>
  /** Deserializes the record value; a throw sends the record to dead letters with the error as reason. */
  value: Serde<V>
  /** Event time in epoch ms; defaults to the Kafka record timestamp. */
  timestamp?: (value: V, recordTimestamp: number) => number
}

export class TopologyBuilder {
  readonly #sources: SourceSpec[] = []
  readonly #tables: GlobalTableSpec[] = []
  readonly #aggregations: Aggregation<unknown, unknown, unknown>[] = []
  readonly #names = new Map<string, number>()
  #deadLetterTopic: string | undefined
  #lateTopic: string | undefined

  stream<K, V>(topic: string, options: StreamOptions<K, V>): KStream<K | null, V> {
    if (this.#sources.some(s => s.topic === topic))
      throw new UsageError(`topic ${topic} is already a stream of this topology`)
    const root: NodeSpec = {
      name: `source-${topic}`,
      children: [],
      create: (_ctx, children) => ({
        process(record) {
          forward(children, record)
        }
      })
    }
    this.#sources.push({
      topic,
      key: options.key as Serde<unknown> | undefined,
      value: options.value as Serde<unknown>,
      timestamp: (options.timestamp ??
        ((_v: V, recordTimestamp: number) => recordTimestamp)) as SourceSpec['timestamp'],
      node: root
    })
    return new KStream<K | null, V>(this, root)
  }

  globalTable<K, V>(topic: string, serdes: { key: Serde<K>; value: Serde<V> }): GlobalTable<K, V> {
    if (!this.#tables.some(t => t.topic === topic)) {
      this.#tables.push({ topic, key: serdes.key as Serde<unknown>, value: serdes.value as Serde<unknown> })
    }
    return new GlobalTable<K, V>(topic)
  }

  /** Records that fail to deserialize or that a step rejects go to `topic`, with their reason. */
  deadLetters(topic: string): this {
    this.#deadLetterTopic = topic
    return this
  }

  /** Late records (their window had closed in their partition) go to `topic`. */
  lateRecords(topic: string): this {
    this.#lateTopic = topic
    return this
  }

  build(): Topology {
    if (this.#sources.length === 0) throw new UsageError('a topology needs at least one stream')
    return {
      sources: [...this.#sources],
      globalTables: [...this.#tables],
      aggregations: [...this.#aggregations],
      deadLetterTopic: this.#deadLetterTopic,
      lateTopic: this.#lateTopic
    }
  }

  /** @internal a unique node name with the given prefix */
  nodeName(prefix: string): string {
    const n = (this.#names.get(prefix) ?? 0) + 1
    this.#names.set(prefix, n)
    return `${prefix}-${n}`
  }

  /** @internal */
  addAggregation(aggregation: Aggregation<unknown, unknown, unknown>): void {
    if (this.#aggregations.some(a => a.name === aggregation.name))
      throw new UsageError(`aggregation name '${aggregation.name}' is used twice`)
    this.#aggregations.push(aggregation)
  }
}
