// One exactly-once commit: a Kafka transaction with everything the tasks produced since the
// last one and the positions of the partitions they read, committed together or not at all.
//   1. the commit's records go out in chunks, each record first measured against its topic's
//      limit (topic-limits.ts), while the sinks flush beside them;
//   2. once the sinks are done, the dead letters of what they refused go out too;
//   3. the positions go in under the group generation the tasks were built for, which the
//      broker checks: a member the group has moved on from cannot commit (KIP-447);
//   4. the transaction commits, or aborts on any failure (the caller then redoes its work).
import type { GroupMember, GroupMembership } from '../kafka/group.ts'
import type { Offset, TransactionalProducer } from '../kafka/transactions.ts'
import type { OutgoingRecord } from '../lib/records.ts'
import { BATCH_OVERHEAD, recordSize, type TopicLimits } from './topic-limits.ts'

export interface CommitRequest {
  records: OutgoingRecord[]
  /** Resolves when the sinks have flushed, to the dead letters of what they refused. */
  sinks: Promise<OutgoingRecord[]>
  offsets: Offset[]
  member: GroupMember
  membership: GroupMembership
  /** Throws when the group moved on (checked before offsets go in, and before the commit). */
  assertMembership: () => void
}

/** Bytes per send: a partition's batch in one send stays well under the broker's default limit of 1 MB. */
const SEND_CHUNK_BYTES = 512 << 10

export class Committer {
  readonly #producer: TransactionalProducer
  readonly #limits: TopicLimits

  constructor(producer: TransactionalProducer, limits: TopicLimits) {
    this.#producer = producer
    this.#limits = limits
  }

  /** Commits; returns, per `topic:partition`, the offset of the last record written there. */
  async commit(request: CommitRequest): Promise<ReadonlyMap<string, bigint>> {
    const transaction = await this.#producer.begin().catch(async (error: unknown) => {
      await request.sinks.catch(() => {})
      throw error
    })
    try {
      await this.#send(transaction, request.records)
      await this.#send(transaction, await request.sinks)
      request.assertMembership()
      await transaction.addOffsets(request.member, request.offsets, request.membership)
      request.assertMembership()
      await transaction.commit()
    } catch (error) {
      await request.sinks.catch(() => {})
      await transaction.abort().catch(() => {})
      throw error
    }
    return transaction.lastOffsets
  }

  async #send(
    transaction: Awaited<ReturnType<TransactionalProducer['begin']>>,
    records: OutgoingRecord[]
  ): Promise<void> {
    if (records.length === 0) return
    const limits = this.#limits
    await limits.learn(records)
    const fitted = limits.fit(records)
    // One request at a time (concurrent sends inside one transaction are not safe with this
    // client); each a bounded chunk, which caps the memory the client's encoding takes and
    // keeps every partition's batch under its topic's size limit.
    for (let from = 0; from < fitted.length;) {
      const to = chunkEnd(fitted, from, topic => limits.limit(topic))
      await transaction.send(fitted.slice(from, to))
      from = to
    }
  }
}

/**
 * The end of the chunk of `records` that starts at `from`: at least one record, at most
 * SEND_CHUNK_BYTES, and no more bytes for one topic than its limit allows in one batch.
 */
function chunkEnd(records: OutgoingRecord[], from: number, limitOf: (topic: string) => number): number {
  let bytes = 0
  const perTopic = new Map<string, number>()
  let to = from
  while (to < records.length) {
    const r = records[to]!
    const size = recordSize(r)
    const topicBytes = (perTopic.get(r.topic) ?? 0) + size
    if (to > from && (bytes + size > SEND_CHUNK_BYTES || topicBytes + BATCH_OVERHEAD > limitOf(r.topic))) break
    bytes += size
    perTopic.set(r.topic, topicBytes)
    to++
  }
  return to
}
