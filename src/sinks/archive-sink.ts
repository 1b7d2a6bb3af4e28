// The speed layer's raw archive as a record sink: every valid event (late ones too), with its
// user's metadata and Kafka coordinates, written to Parquet at each commit (see
// parquet-archive.ts and docs/archive.md). Records added while a flush is writing wait for
// the next flush, so none is dropped by a write in progress.
import type { RecordSink, StreamRecord } from '../topology/index.ts'
import type { EnrichedEvent } from '../traffic/topology.ts'
import type { ArchiveRow, ParquetArchive } from './parquet-archive.ts'

export class ArchiveSink implements RecordSink<unknown, EnrichedEvent> {
  readonly #archive: ParquetArchive
  #rows: ArchiveRow[] = []
  /** Rows written so far, for metrics. */
  written = 0

  constructor (archive: ParquetArchive) {
    this.#archive = archive
  }

  add (record: StreamRecord<unknown, EnrichedEvent>): void {
    const { value: event, raw } = record
    this.#rows.push({
      bytes: event.bytes,
      timestamp: event.timestamp,
      app: event.app,
      id: event.id,
      antenna_id: event.antenna_id,
      email: event.email,
      quota: event.quota,
      topic: raw.source.topic,
      partition: raw.source.partition,
      offset: raw.source.offset
    })
  }

  async flush (): Promise<void> {
    const rows = this.#rows
    if (rows.length === 0) return
    this.#rows = []
    this.#archive.add(rows)
    await this.#archive.flush()
    this.written += rows.length
  }
}
