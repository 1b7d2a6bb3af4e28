// The topics an application keeps for itself, named from its application id as Kafka Streams
// does, and what they hold:
//   <app>-<aggregation>-partials            partial aggregates and watermark heartbeats (7 days)
//   <app>-<aggregation>-windows-changelog   the owners' window stores (compacted)
//   <app>-<aggregation>-sources-changelog   the stream time each owner saw per source (compacted)
//   <app>-source-times                      each input partition's stream time (compacted, 1 partition)
//   <app>-instances                         each instance's HTTP address and partitions, for
//                                           interactive queries (compacted, 1 partition)
// plus, made at start when missing, the topology's outputs, dead-letter and late topics.
import { DEFAULT_MAX_MESSAGE_BYTES, type TopicSpec } from '../kafka/admin.ts'
import type { Plan } from './plan.ts'

export function partialsTopic(applicationId: string, aggregation: string): string {
  return `${applicationId}-${aggregation}-partials`
}

export function changelogTopic(applicationId: string, aggregation: string, store: 'windows' | 'sources'): string {
  return `${applicationId}-${aggregation}-${store}-changelog`
}

export function sourceTimesTopic(applicationId: string): string {
  return `${applicationId}-source-times`
}

export function instancesTopic(applicationId: string): string {
  return `${applicationId}-instances`
}

export function isInternalTopic(applicationId: string, topic: string): boolean {
  if (topic === sourceTimesTopic(applicationId) || topic === instancesTopic(applicationId)) return true
  if (!topic.startsWith(`${applicationId}-`)) return false
  return topic.endsWith('-partials') || topic.endsWith('-windows-changelog') || topic.endsWith('-sources-changelog')
}

/**
 * Every topic the application writes. Dead letters and late records carry input records
 * whole, with headers: their topics take what the inputs take (`inputLimit`, the largest
 * max.message.bytes of the inputs) and room for the headers.
 */
export function applicationTopics(plan: Plan, inputLimit = DEFAULT_MAX_MESSAGE_BYTES): TopicSpec[] {
  const { topology, applicationId } = plan
  const inputs = Math.max(...plan.inputPartitions.values())
  const carried = { 'max.message.bytes': String(Math.max(DEFAULT_MAX_MESSAGE_BYTES, inputLimit) + (64 << 10)) }
  const specs: TopicSpec[] = [
    { name: sourceTimesTopic(applicationId), partitions: 1, config: { 'cleanup.policy': 'compact' } },
    { name: instancesTopic(applicationId), partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ]
  for (const aggregation of plan.aggregations) {
    specs.push({
      name: aggregation.topic,
      partitions: aggregation.partitions,
      config: { 'retention.ms': String(7 * 24 * 3600_000) }
    })
    for (const store of ['windows', 'sources'] as const) {
      specs.push({
        name: changelogTopic(applicationId, aggregation.aggregation.name, store),
        partitions: aggregation.partitions,
        config: { 'cleanup.policy': 'compact' }
      })
    }
    for (const output of [
      ...aggregation.aggregation.outputs,
      ...aggregation.aggregation.watches.flatMap(w => w.outputs)
    ]) {
      if (output.kind === 'topic') specs.push({ name: output.topic, partitions: inputs })
    }
  }
  if (topology.deadLetterTopic !== undefined)
    specs.push({ name: topology.deadLetterTopic, partitions: inputs, config: carried })
  if (topology.lateTopic !== undefined) specs.push({ name: topology.lateTopic, partitions: inputs, config: carried })
  return specs
}
