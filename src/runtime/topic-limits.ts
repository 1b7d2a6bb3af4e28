// No record may stall a commit by being too large for its topic: the broker would refuse the
// whole transaction, every retry alike. Before a commit sends, each record is measured against
// its topic's max.message.bytes (read from the broker once per topic, again after a rebalance):
// one over the limit goes to the dead-letter topic instead, with the reason; a dead letter too
// large for the dead-letter topic keeps its headers and the head of its value, and says how
// large it was (its source coordinates still lead to the original).
import { DEFAULT_MAX_MESSAGE_BYTES, messageLimits, type KafkaAdmin } from '../kafka/admin.ts'
import type { OutgoingRecord } from '../lib/records.ts'
import { DEAD_LETTER_HEADERS, refusalReason } from './source-task.ts'

/** What a record batch of one record adds to the record itself. */
export const BATCH_OVERHEAD = 61
export const TRUNCATED_HEADER = 'cellstream.truncated.from'

/** An upper bound of a record's size inside a record batch (lengths as varints, attributes, deltas). */
export function recordSize(record: OutgoingRecord): number {
  let size = 32 + (record.key?.length ?? 0) + (record.value?.length ?? 0)
  if (record.headers !== undefined)
    for (const name in record.headers) size += 10 + Buffer.byteLength(name) + Buffer.byteLength(record.headers[name]!)
  return size
}

export class TopicLimits {
  readonly #admin: KafkaAdmin
  readonly #deadLetterTopic: string | undefined
  /** Topics the runtime writes only for itself: never replaced, they are sized to fit. */
  readonly #internal: (topic: string) => boolean
  readonly #limits = new Map<string, number>()

  constructor(admin: KafkaAdmin, deadLetterTopic: string | undefined, internal: (topic: string) => boolean) {
    this.#admin = admin
    this.#deadLetterTopic = deadLetterTopic
    this.#internal = internal
  }

  /** Forgets what it knew: a topic's limit may have changed. */
  clear(): void {
    this.#limits.clear()
  }

  /** The largest record batch `topic` takes. */
  limit(topic: string): number {
    return this.#limits.get(topic) ?? DEFAULT_MAX_MESSAGE_BYTES
  }

  /** Reads the limits of the topics of `records` not read yet. */
  async learn(records: OutgoingRecord[]): Promise<void> {
    const unknown = new Set<string>()
    for (const { topic } of records) if (!this.#limits.has(topic)) unknown.add(topic)
    if (this.#deadLetterTopic !== undefined && !this.#limits.has(this.#deadLetterTopic))
      unknown.add(this.#deadLetterTopic)
    if (unknown.size === 0) return
    const limits = await messageLimits(this.#admin, [...unknown])
    for (const topic of unknown) this.#limits.set(topic, limits.get(topic) ?? DEFAULT_MAX_MESSAGE_BYTES)
  }

  /** `records` with each one too large for its topic replaced by its dead letter (see the header). */
  fit(records: OutgoingRecord[]): OutgoingRecord[] {
    let fitted: OutgoingRecord[] | undefined
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      const size = recordSize(record) + BATCH_OVERHEAD
      const limit = this.limit(record.topic)
      if (size <= limit || this.#internal(record.topic)) {
        fitted?.push(record)
        continue
      }
      fitted ??= records.slice(0, i)
      fitted.push(this.#letterFor(record, size, limit))
    }
    return fitted ?? records
  }

  #letterFor(record: OutgoingRecord, size: number, limit: number): OutgoingRecord {
    const dlq = this.#deadLetterTopic
    if (dlq === undefined)
      throw new Error(
        `a record of ${size} bytes is over the max.message.bytes of ${record.topic} (${limit}) and the topology has no dead-letter topic`
      )
    const letter =
      record.topic === dlq
        ? record
        : {
            topic: dlq,
            key: record.key,
            value: record.value,
            headers: {
              ...record.headers,
              [DEAD_LETTER_HEADERS.reason]: refusalReason(
                `topic ${record.topic}`,
                `a record of ${size} bytes is over the topic's max.message.bytes (${limit})`
              ),
              [DEAD_LETTER_HEADERS.sink]: `topic ${record.topic}`
            }
          }
    const letterSize = recordSize(letter) + BATCH_OVERHEAD
    const letterLimit = this.limit(dlq)
    if (letterSize <= letterLimit) return letter
    const value = letter.value ?? Buffer.alloc(0)
    const headers = { ...letter.headers, [TRUNCATED_HEADER]: String(value.length) }
    const room = Math.max(0, letterLimit - BATCH_OVERHEAD - recordSize({ ...letter, value: null, headers }))
    return { ...letter, value: value.subarray(0, room), headers }
  }
}
