// Reading back what the group committed, when tasks are rebuilt: the positions of the
// assigned partitions and each input partition's stream time, and this instance's id, which
// stays the same per state folder so that a restarted instance fences its own predecessor.
import { randomUUID } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { committedOffsets, type KafkaAdmin } from '../kafka/admin.ts'
import { readToEnd, type Fetcher } from '../kafka/fetcher.ts'
import { topicPartition } from '../lib/records.ts'
import { int64Serde, stringSerde } from '../lib/serdes.ts'

/**
 * The next offset to read of each partition, by `topic:partition`: the committed one
 * (waiting for a transaction in flight that commits some), or the partition's start.
 */
export async function committedPositions(
  admin: KafkaAdmin,
  fetcher: Fetcher,
  groupId: string,
  partitions: Array<{ topic: string; partition: number }>
): Promise<Map<string, bigint>> {
  const result = await committedOffsets(admin, groupId, partitions)
  for (const topic of new Set(
    partitions.filter(p => !result.has(topicPartition(p.topic, p.partition))).map(p => p.topic)
  )) {
    const starts = await fetcher.startOffsets(topic)
    for (const { partition } of partitions.filter(p => p.topic === topic)) {
      const id = topicPartition(topic, partition)
      if (!result.has(id)) result.set(id, starts[partition] ?? 0n)
    }
  }
  return result
}

/** Each input partition's stream time as of the last commit, from the source-times topic. */
export async function committedStreamTimes(fetcher: Fetcher, topic: string): Promise<Map<string, number>> {
  const times = new Map<string, number>()
  for await (const batch of readToEnd(fetcher, topic, new Map([[0, 0n]]))) {
    for (const record of batch) {
      if (record.key !== null && record.value !== null)
        times.set(stringSerde.deserialize(record.key), int64Serde.deserialize(record.value))
    }
  }
  return times
}

/** This state folder's instance id, made on first use. */
export async function instanceId(stateDir: string, applicationId: string): Promise<string> {
  const dir = join(stateDir, applicationId)
  await mkdir(dir, { recursive: true })
  const file = join(dir, 'instance-id')
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    const id = randomUUID().slice(0, 8)
    await writeFile(file, `${id}\n`)
    return id
  }
}
