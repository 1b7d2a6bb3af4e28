// A changelog partition in memory: the test driver's stand-in for the Kafka topic, which it
// appends a commit's changes to, with compaction to check that restore copes with its gaps.
import { type ChangeRecord, type ChangelogEntry, type ChangelogReader } from './types.ts'

export class InMemoryChangelog implements ChangelogReader {
  private log: ChangelogEntry[] = []
  private next = 0n

  get records(): readonly ChangelogEntry[] {
    return this.log
  }

  /** Appends records; returns the offset of the last one (undefined when there was none). */
  append(records: readonly ChangeRecord[]): bigint | undefined {
    for (const { key, value } of records) this.log.push({ offset: this.next++, key, value })
    return records.length > 0 ? this.next - 1n : undefined
  }

  async endOffset(): Promise<bigint> {
    return this.next
  }

  async *read(fromOffset: bigint, endOffset: bigint): AsyncIterable<ChangelogEntry> {
    for (const entry of this.log) {
      if (entry.offset >= endOffset) return
      if (entry.offset >= fromOffset) yield entry
    }
  }

  /** Keeps only the last record per key, with their offsets, as log compaction does. */
  compact(): void {
    const last = new Map<string, ChangelogEntry>()
    for (const entry of this.log) last.set(entry.key.toString('latin1'), entry)
    this.log = [...last.values()].sort((a, b) => (a.offset < b.offset ? -1 : 1))
  }
}
