// What a demo finds on the broker and leaves behind: its names, where its traffic stopped (so
// a second run resumes there), how far the stream got, and starting over (--fresh).
import { rm } from 'node:fs/promises'
import { withAdmin } from '../../kafka/admin.ts'
import { createConsumer } from '../../kafka/clients.ts'
import { Fetcher, readToEnd } from '../../kafka/fetcher.ts'
import { resetApplication } from '../../runtime/reset.ts'
import { decodeEvent } from '../../traffic/event-codec.ts'
import { closeDb, openDb } from '../../db/pool.ts'
import { sleep } from '../../lib/processes.ts'
import { progress } from '../shared-options.ts'

/** The topics and group a demo uses: the standard names, or each prefixed with `<namespace>-`. */
export function demoNames(namespace: string | undefined): {
  input: string
  group: string
  metadata: string
  alerts: string
} {
  const name = (base: string): string => (namespace === undefined ? base : `${namespace}-${base}`)
  return {
    input: name('devices'),
    group: name('cellstream'),
    metadata: name('user-metadata'),
    alerts: name('quota-alerts')
  }
}

export async function endOffsets(brokers: string[], topic: string): Promise<bigint[]> {
  const consumer = createConsumer(brokers, 'cellstream-demo', 'cellstream-demo')
  try {
    return await new Fetcher(consumer).endOffsets(topic)
  } finally {
    await consumer.close(true)
  }
}

/** Waits until `group` has committed at least `ends` on every partition of `topic`, or `cancelled`. */
export async function waitForCommitted(
  brokers: string[],
  group: string,
  topic: string,
  ends: bigint[],
  cancelled: () => boolean
): Promise<void> {
  while (!cancelled()) {
    const groups = await withAdmin(brokers, admin => admin.listConsumerGroupOffsets({ groups: [group] }))
    const committed = groups[0]?.topics.find(t => t.name === topic)?.partitions ?? []
    if (ends.every((end, p) => (committed.find(c => c.partitionIndex === p)?.committedOffset ?? -1n) >= end)) return
    await sleep(1000)
  }
}

/** The latest event time (epoch seconds) among the last records of each partition of `topic`; undefined when it has none. */
export async function lastEventSecond(brokers: string[], topic: string): Promise<number | undefined> {
  const exists = await withAdmin(brokers, async admin => (await admin.listTopics()).includes(topic))
  if (!exists) return undefined
  const consumer = createConsumer(brokers, 'cellstream-demo', 'cellstream-demo')
  try {
    const fetcher = new Fetcher(consumer)
    const ends = await fetcher.endOffsets(topic)
    let latest: number | undefined
    const from = new Map(ends.map((end, partition) => [partition, end > 200n ? end - 200n : 0n]))
    for await (const batch of readToEnd(fetcher, topic, from)) {
      for (const record of batch) {
        try {
          const { timestamp } = decodeEvent(record.value ?? Buffer.alloc(0))
          if (latest === undefined || timestamp > latest) latest = timestamp
        } catch {
          // a bad record says nothing of where the traffic stopped
        }
      }
    }
    return latest
  } finally {
    await consumer.close(true)
  }
}

/** Deletes what earlier demo runs left: its topics, the stream's group and state, the archive, the tables' rows. */
export async function startOver(
  brokers: string[],
  databaseUrl: string,
  names: ReturnType<typeof demoNames>
): Promise<void> {
  progress("    --fresh: deleting the demo's topics, state, archive and table rows")
  await withAdmin(brokers, async admin => {
    await resetApplication(admin, names.group, ['./data/state'])
    const topics = (await admin.listTopics()).filter(topic =>
      [names.input, `${names.input}-dlq`, `${names.input}-late`, names.alerts].includes(topic)
    )
    if (topics.length > 0) await admin.deleteTopics({ topics })
    // Deletion completes in the background: the backfill must not find the old topic.
    while ((await admin.listTopics()).some(topic => topics.includes(topic))) await sleep(200)
  })
  await rm('./data/archive', { recursive: true, force: true })
  const db = openDb(databaseUrl)
  try {
    await db.none('TRUNCATE bytes, bytes_hourly, user_quota_limit, quota_alerts')
  } finally {
    await closeDb(db)
  }
}
