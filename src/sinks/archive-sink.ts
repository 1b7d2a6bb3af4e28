// The speed layer's raw archive as a record sink: every valid event (late ones too), with its
// user's metadata and Kafka coordinates, written to Parquet at each commit (see
// parquet-archive.ts and docs/archive.md). Records added while a flush is writing go to the
// next batch, so none is dropped by a write in progress.
import type { RecordSink, StreamRecord } from '../topology/index.ts'
import type { EnrichedEvent } from '../traffic/topology.ts'
import type { ArchiveBatch } from './archive-batch.ts'
import type { ParquetArchive } from './parquet-archive.ts'

export class ArchiveSink implements RecordSink<unknown, EnrichedEvent> {
  readonly #archive: ParquetArchive
  #batch: ArchiveBatch
  /** Rows written so far, for metrics. */
  written = 0

  constructor (archive: ParquetArchive) {
    this.#archive = archive
    this.#batch = archive.batch()
  }

  add (record: StreamRecord<unknown, EnrichedEvent>): void {
    this.#batch.add(record.value, record.raw.source)
  }

  async flush (): Promise<void> {
    const batch = this.#batch
    // A new batch even when this one is empty, so that an idle sink does not hold on to a
    // dictionary the archive has left.
    this.#batch = this.#archive.batch()
    if (batch.size === 0) return
    await this.#archive.write(batch)
    this.written += batch.size
  }
}
