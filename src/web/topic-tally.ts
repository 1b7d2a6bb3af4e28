// Counts the records of a topic by a label of each (dead letters by reason), following the
// topic from its start: each update reads only what arrived since the previous one.
import type { Fetcher } from '../kafka/fetcher.ts'
import type { RawRecord } from '../topology/records.ts'

// Bounds one update, so that a long backlog is read over several refreshes.
const MAX_ROUNDS = 50

export class TopicTally {
  readonly topic: string
  readonly counts = new Map<string, number>()
  readonly #fetcher: Fetcher
  readonly #label: (record: RawRecord) => string
  readonly #positions = new Map<number, bigint>()

  constructor(fetcher: Fetcher, topic: string, label: (record: RawRecord) => string) {
    this.#fetcher = fetcher
    this.topic = topic
    this.#label = label
  }

  get total(): number {
    let sum = 0
    for (const count of this.counts.values()) sum += count
    return sum
  }

  async update(): Promise<void> {
    const ends = await this.#fetcher.endOffsets(this.topic)
    const behind = (): number[] =>
      ends.flatMap((end, partition) => ((this.#positions.get(partition) ?? 0n) < end ? [partition] : []))
    for (
      let round = 0, partitions = behind();
      partitions.length > 0 && round < MAX_ROUNDS;
      round++, partitions = behind()
    ) {
      const fetched = await this.#fetcher.fetch(
        partitions.map(partition => ({ topic: this.topic, partition, offset: this.#positions.get(partition) ?? 0n })),
        50
      )
      for (const part of fetched) {
        const end = ends[part.partition]!
        for (const record of part.records) {
          if (record.source.offset >= end) break
          const label = this.#label(record)
          this.counts.set(label, (this.counts.get(label) ?? 0) + 1)
        }
        // Records past the end offsets taken above are counted by the next update.
        this.#positions.set(part.partition, part.next < end ? part.next : end)
      }
    }
  }
}
