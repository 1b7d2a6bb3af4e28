// A changelog partition in memory, both writer and reader: the test driver's stand-in for
// the Kafka topic, with compaction to check that restore copes with its gaps.
import { type ChangeRecord, type ChangelogEntry, type ChangelogReader, type ChangelogWriter } from './types.ts'

export class InMemoryChangelog implements ChangelogWriter, ChangelogReader {
  private log: ChangelogEntry[] = []
  private next = 0n

  get records (): readonly ChangelogEntry[] {
    return this.log
  }

  send (records: ChangeRecord[]): void {
    for (const { key, value } of records) this.log.push({ offset: this.next++, key, value })
  }

  async endOffset (): Promise<bigint> {
    return this.next
  }

  async * read (fromOffset: bigint, endOffset: bigint): AsyncIterable<ChangelogEntry> {
    for (const entry of this.log) {
      if (entry.offset >= endOffset) return
      if (entry.offset >= fromOffset) yield entry
    }
  }

  /** Keeps only the last record per key, with their offsets, as log compaction does. */
  compact (): void {
    const last = new Map<string, ChangelogEntry>()
    for (const entry of this.log) last.set(entry.key.toString('latin1'), entry)
    this.log = [...last.values()].sort((a, b) => (a.offset < b.offset ? -1 : 1))
  }
}
