// What an application needs to run a topology, given the partition counts of its inputs:
// the partials topic of each aggregation and its partition count, which aggregations each
// input topic feeds, and which source partitions each aggregation waits for.
import { aggregationsFedBy, type SourceSpec, type Topology } from '../topology/topology.ts'
import { topicPartition } from '../lib/records.ts'
import { partialsTopic } from './internal-topics.ts'
import type { Aggregation } from '../topology/aggregation.ts'

export interface AggregationPlan {
  aggregation: Aggregation<unknown, unknown, unknown>
  topic: string
  partitions: number
  /** Source partitions (`topic:partition`) whose stream time makes the watermark. */
  sources: string[]
}

export interface Plan {
  topology: Topology
  applicationId: string
  inputPartitions: Map<string, number>
  aggregations: AggregationPlan[]
  /** Per input topic, the aggregations it feeds. */
  feeds: Map<string, AggregationPlan[]>
  source(topic: string): SourceSpec
  aggregationOfTopic(topic: string): AggregationPlan | undefined
}

export function makePlan(
  topology: Topology,
  applicationId: string,
  inputPartitions: Map<string, number>,
  partialsPartitions?: number
): Plan {
  const partitions = partialsPartitions ?? Math.max(...inputPartitions.values())
  const fedBy = new Map(topology.sources.map(s => [s.topic, aggregationsFedBy(s)]))
  const aggregations = topology.aggregations.map(aggregation => {
    const sources: string[] = []
    for (const source of topology.sources) {
      if (!fedBy.get(source.topic)!.includes(aggregation.name)) continue
      for (let p = 0; p < (inputPartitions.get(source.topic) ?? 0); p++) sources.push(topicPartition(source.topic, p))
    }
    return { aggregation, topic: partialsTopic(applicationId, aggregation.name), partitions, sources }
  })
  const feeds = new Map(
    topology.sources.map(s => [s.topic, aggregations.filter(a => fedBy.get(s.topic)!.includes(a.aggregation.name))])
  )
  const byTopic = new Map(aggregations.map(a => [a.topic, a]))
  return {
    topology,
    applicationId,
    inputPartitions,
    aggregations,
    feeds,
    source: topic => topology.sources.find(s => s.topic === topic)!,
    aggregationOfTopic: topic => byTopic.get(topic)
  }
}
