// Kafka transactions as the runtime uses them: a transactional producer per instance whose id
// is stable per state folder, and transactions that carry records and the consumer offsets of
// the group generation the caller names (KIP-447), so that an instance the group has moved on
// from cannot commit.
import type { ProduceResult, Producer } from '@platformatic/kafka'
import { UnavailableError } from '../lib/errors.ts'
import { topicPartition, type OutgoingRecord } from '../lib/records.ts'
import { createTransactionalProducer } from './clients.ts'
import type { GroupMember, GroupMembership } from './group.ts'

export interface Offset {
  topic: string
  partition: number
  /** The next offset to read: what a restarted consumer starts from. */
  offset: bigint
}

export class TransactionalProducer {
  readonly #brokers: string[]
  readonly #id: string
  #producer: Producer<Buffer, Buffer, Buffer, Buffer>

  constructor(brokers: string[], transactionalId: string) {
    this.#brokers = brokers
    this.#id = transactionalId
    this.#producer = createTransactionalProducer(brokers, transactionalId, transactionalId)
  }

  /**
   * Registers the transactional id. This fences a predecessor with the same id (a killed
   * instance of this state folder) and aborts its open transaction now: offsets it left
   * pending would otherwise hold up reading committed offsets until the broker's transaction
   * timeout. The client retries without end here: the wait is bounded.
   */
  async register(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new UnavailableError(`cannot register the transactional id within ${timeoutMs / 1000} s`)),
        timeoutMs
      )
    })
    try {
      await (await Promise.race([this.#producer.beginTransaction(), timeout])).cancel()
    } finally {
      clearTimeout(timer)
    }
  }

  async begin(): Promise<KafkaTransaction> {
    return new KafkaTransaction(await this.#producer.beginTransaction())
  }

  /** A fenced or failed transactional producer cannot begin again: this one replaces it. */
  async reset(): Promise<void> {
    await this.#producer.close(true).catch(() => {})
    this.#producer = createTransactionalProducer(this.#brokers, this.#id, this.#id)
  }

  async close(): Promise<void> {
    await this.#producer.close(true).catch(() => {})
  }
}

type ClientTransaction = Awaited<ReturnType<Producer<Buffer, Buffer, Buffer, Buffer>['beginTransaction']>>

export class KafkaTransaction {
  readonly #transaction: ClientTransaction
  /** Per `topic:partition`, the offset of the last record this transaction wrote there. */
  readonly lastOffsets = new Map<string, bigint>()

  constructor(transaction: ClientTransaction) {
    this.#transaction = transaction
  }

  /**
   * Sends records in one request. The caller keeps each partition's records within its topic's
   * size limit, and sends one request at a time: concurrent sends inside one transaction are
   * not safe with this client.
   */
  async send(records: OutgoingRecord[]): Promise<void> {
    noteLastOffsets(
      this.lastOffsets,
      records,
      await this.#transaction.send({ messages: records.map(toMessage) as never })
    )
  }

  /** Adds the positions to commit with the transaction, under the group generation `membership` names. */
  async addOffsets(member: GroupMember, offsets: Offset[], membership: GroupMembership): Promise<void> {
    if (offsets.length === 0) return
    await this.#transaction.addConsumer(member.consumer)
    for (const p of offsets) {
      // The client commits `offset + 1`: hand it the offset before the position.
      await this.#transaction.addOffset({
        topic: p.topic,
        partition: p.partition,
        offset: p.offset - 1n,
        metadata: { consumer: membership }
      } as never)
    }
  }

  async commit(): Promise<void> {
    await this.#transaction.commit()
  }

  async abort(): Promise<void> {
    await this.#transaction.abort()
  }
}

/** Records, per `topic:partition`, the offset of the last record of `sent` there, from the produce response's base offsets. */
function noteLastOffsets(last: Map<string, bigint>, sent: OutgoingRecord[], result: ProduceResult): void {
  // A send puts each partition's records into one batch: the base offset plus their count.
  const counts = new Map<string, number>()
  for (const r of sent) {
    if (r.partition === undefined) continue
    const id = topicPartition(r.topic, r.partition)
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  for (const { topic, partition, offset } of result.offsets ?? []) {
    const count = counts.get(topicPartition(topic, partition))
    if (count !== undefined) last.set(topicPartition(topic, partition), offset + BigInt(count - 1))
  }
}

function toMessage(r: OutgoingRecord): object {
  return {
    topic: r.topic,
    partition: r.partition,
    key: r.key ?? undefined,
    value: r.value ?? undefined,
    headers: r.headers === undefined ? undefined : recordHeaders(r.headers)
  }
}

function recordHeaders(headers: Record<string, string>): Map<Buffer, Buffer> {
  const map = new Map<Buffer, Buffer>()
  for (const [name, value] of Object.entries(headers)) map.set(Buffer.from(name), Buffer.from(value))
  return map
}
