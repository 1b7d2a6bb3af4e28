// What the dashboard reads from Kafka's admin API about the stream processor: the members of
// its consumer group and their partitions, and per input partition the committed offset
// against the end offset (the lag).
import type { Admin } from '@platformatic/kafka'

export interface GroupMemberView {
  id: string
  clientId: string
  host: string
  partitions: string[]
}
export interface PartitionLag {
  partition: number
  end: number
  committed: number | undefined
  lag: number
}

export interface GroupView {
  state: string
  members: GroupMemberView[]
  /** Input partitions, in order; an empty list while the topic does not exist. */
  partitions: PartitionLag[]
}

export async function readGroup(admin: Admin, group: string, topic: string): Promise<GroupView> {
  const description = (await admin.describeGroups({ groups: [group] })).get(group)
  const members = [...(description?.members.values() ?? [])]
    .map(member => ({
      id: member.id,
      clientId: member.clientId,
      host: member.clientHost.replace(/^\//, ''),
      partitions: [...(member.assignments?.values() ?? [])]
        .flatMap(assignment => assignment.partitions.map(partition => `${assignment.topic}-${partition}`))
        .sort(byTopicPartition)
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1))

  const metadata = await admin.metadata({ topics: [topic] }).catch(() => undefined)
  const count = metadata?.topics.get(topic)?.partitionsCount ?? 0
  if (count === 0) return { state: description?.state ?? 'unknown', members, partitions: [] }
  const indexes = Array.from({ length: count }, (_, i) => i)
  const [listed] = await admin.listOffsets({
    topics: [{ name: topic, partitions: indexes.map(partitionIndex => ({ partitionIndex, timestamp: -1n })) }]
  })
  const [offsets] = await admin.listConsumerGroupOffsets({
    groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: indexes }] }]
  })
  const committed = new Map(
    offsets?.topics
      .find(t => t.name === topic)
      ?.partitions.filter(p => p.committedOffset >= 0n)
      .map(p => [p.partitionIndex, Number(p.committedOffset)]) ?? []
  )
  const ends = new Map(listed?.partitions.map(p => [p.partitionIndex, Number(p.offset)]) ?? [])
  return {
    state: description?.state ?? 'unknown',
    members,
    partitions: indexes.map(partition => {
      const end = ends.get(partition) ?? 0
      const done = committed.get(partition)
      return { partition, end, committed: done, lag: Math.max(0, end - (done ?? 0)) }
    })
  }
}

function byTopicPartition(a: string, b: string): number {
  const [topicA, partitionA] = splitLast(a)
  const [topicB, partitionB] = splitLast(b)
  return topicA < topicB ? -1 : topicA > topicB ? 1 : partitionA - partitionB
}

function splitLast(name: string): [string, number] {
  const at = name.lastIndexOf('-')
  return [name.slice(0, at), Number(name.slice(at + 1))]
}
