// The compiled topology: what the runtime and the test driver execute. It lists the input
// streams (each the root of a node tree), the global tables and the windowed aggregations.
import type { Serde } from '../lib/serdes.ts'
import type { NodeSpec } from './processor.ts'
import type { Aggregation } from './aggregation.ts'

export interface SourceSpec {
  topic: string
  key: Serde<unknown> | undefined
  value: Serde<unknown>
  /** Event time of a deserialized record, epoch milliseconds. */
  timestamp: (value: unknown, recordTimestamp: number) => number
  node: NodeSpec
}

export interface GlobalTableSpec {
  /** The compacted topic the table mirrors; also the table's name for joins. */
  topic: string
  key: Serde<unknown>
  value: Serde<unknown>
}

export interface Topology {
  sources: SourceSpec[]
  globalTables: GlobalTableSpec[]
  aggregations: Aggregation<unknown, unknown, unknown>[]
  /** Where records that fail go, with their reason; undefined sends them nowhere but the metric. */
  deadLetterTopic: string | undefined
  /** Where late records go; undefined counts them only. */
  lateTopic: string | undefined
}

/** The names of the aggregations that records of `source` can reach. */
export function aggregationsFedBy(source: SourceSpec): string[] {
  const names = new Set<string>()
  const walk = (node: NodeSpec): void => {
    if (node.aggregation !== undefined) names.add(node.aggregation)
    for (const child of node.children) walk(child)
  }
  walk(source.node)
  return [...names]
}
