// The speed layer's raw archive as a record sink: every valid event (late ones too), with its
// user's metadata and Kafka coordinates, written to Parquet at each commit (see
// parquet-archive.ts and docs/archive.md). Records added while a flush is writing go to the
// next batch, so none is dropped by a write in progress. A record Parquet cannot hold as it is
// goes back to the runtime at the flush (dead letters) instead of being altered.
import type { Refusal, RecordSink, StreamRecord } from '../topology/index.ts'
import type { EnrichedEvent } from '../traffic/types.ts'
import type { ArchiveBatch } from '../archive/batch.ts'
import type { ParquetArchive } from '../archive/parquet-archive.ts'

export class ArchiveSink implements RecordSink<unknown, EnrichedEvent> {
  readonly #archive: ParquetArchive
  #batch: ArchiveBatch
  #refused: Array<Refusal<StreamRecord<unknown, EnrichedEvent>>> = []
  /** Rows written so far, for metrics. */
  written = 0

  constructor(archive: ParquetArchive) {
    this.#archive = archive
    this.#batch = archive.batch()
  }

  add(record: StreamRecord<unknown, EnrichedEvent>): void {
    const problem = this.#batch.add(record.value, record.raw.source)
    if (problem !== undefined) this.#refused.push({ record, error: problem })
  }

  async flush(): Promise<Array<Refusal<StreamRecord<unknown, EnrichedEvent>>>> {
    const batch = this.#batch
    const refused = this.#refused
    // A new batch even when this one is empty, so that an idle sink does not hold on to a
    // dictionary the archive has left.
    this.#batch = this.#archive.batch()
    this.#refused = []
    if (batch.size > 0) {
      await this.#archive.write(batch)
      this.written += batch.size
    }
    return refused
  }
}
