// Topics, groups and reads for the benchmark. Every name carries the run's id, so that the run
// can delete exactly what it created.
import { type Admin } from '@platformatic/kafka'
import { createAdmin, ensureTopics } from '../../src/kafka/admin.ts'
import { createConsumer } from '../../src/kafka/clients.ts'
import { Fetcher, readToEnd } from '../../src/kafka/fetcher.ts'
import { sleep } from '../../src/lib/processes.ts'

export class BenchKafka {
  readonly brokers: string[]
  readonly admin: Admin
  readonly #id: string

  constructor(brokers: string[], id: string) {
    this.brokers = brokers
    this.#id = id
    // One client for every poll: a new connection per poll would take CPU from what is measured.
    this.admin = createAdmin(brokers, `bench-${id}`)
  }

  async createTopic(name: string, partitions: number, config: Record<string, string> = {}): Promise<string> {
    await ensureTopics(this.admin, [{ name, partitions, config }])
    return name
  }

  /** The sum of a group's committed offsets on a topic. */
  async committed(group: string, topic: string): Promise<bigint> {
    const groups = await this.admin.listConsumerGroupOffsets({ groups: [group] })
    return (
      groups[0]?.topics
        .find(t => t.name === topic)
        ?.partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n) ?? 0n
    )
  }

  /** Waits until `group` has committed `total` offsets on `topic`; false after `timeoutMs`. */
  async waitCommitted(
    group: string,
    topic: string,
    total: bigint,
    timeoutMs: number,
    onPoll?: () => Promise<void>
  ): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      await onPoll?.()
      if ((await this.committed(group, topic)) >= total) return true
      await sleep(100)
    }
    return false
  }

  /** The sum of a topic's end offsets (read_committed). */
  async endOffset(topic: string): Promise<bigint> {
    const consumer = createConsumer(this.brokers, `bench-${this.#id}-ends`, `bench-${this.#id}-ends`)
    try {
      return (await new Fetcher(consumer).endOffsets(topic)).reduce((sum, end) => sum + end, 0n)
    } finally {
      await consumer.close(true)
    }
  }

  /** Every record of a topic up to its end now, with its partition. */
  async *read(
    topic: string
  ): AsyncGenerator<{ partition: number; timestamp: number; key: Buffer | null; value: Buffer | null }> {
    const consumer = createConsumer(this.brokers, `bench-${this.#id}-reader`, `bench-${this.#id}-reader`)
    try {
      const fetcher = new Fetcher(consumer)
      const partitions = (await fetcher.startOffsets(topic)).map((start, p) => [p, start] as [number, bigint])
      for await (const batch of readToEnd(fetcher, topic, new Map(partitions))) {
        for (const record of batch)
          yield {
            partition: record.source.partition,
            timestamp: record.timestamp,
            key: record.key,
            value: record.value
          }
      }
    } finally {
      await consumer.close(true)
    }
  }

  /** Deletes every topic and consumer group whose name holds the run's id. */
  async cleanUp(): Promise<void> {
    const topics = (await this.admin.listTopics()).filter(t => t.includes(this.#id))
    if (topics.length > 0) await this.admin.deleteTopics({ topics })
    const groups = [...(await this.admin.listGroups()).keys()].filter(g => g.includes(this.#id))
    if (groups.length > 0) await this.admin.deleteGroups({ groups }).catch(() => {})
    await this.admin.close()
  }
}
