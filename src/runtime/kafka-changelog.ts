// A store's changelog partition read back through the fetcher (read_committed, so records
// of aborted commits never reach a restored store).
import type { ChangelogEntry, ChangelogReader } from '../stores/index.ts'
import { readToEnd, type Fetcher } from '../kafka/fetcher.ts'

export function changelogReader(fetcher: Fetcher, topic: string, partition: number): ChangelogReader {
  return {
    endOffset: async () => (await fetcher.endOffsets(topic))[partition] ?? 0n,
    async *read(fromOffset: bigint, endOffset: bigint): AsyncIterable<ChangelogEntry> {
      for await (const batch of readToEnd(fetcher, topic, new Map([[partition, fromOffset]]))) {
        for (const record of batch) {
          if (record.source.offset >= endOffset) return
          if (record.key === null) continue
          yield { offset: record.source.offset, key: record.key, value: record.value }
        }
      }
    }
  }
}
