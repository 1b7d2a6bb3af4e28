// The compactor's DuckDB: in memory, spilling to the system temp folder, all cores unless told
// otherwise. The scratch folder holds files passed between DuckDB and PostgreSQL (user metadata
// in, hourly rows out); the caller owns it exclusively (run.ts keeps it in the locked archive),
// so whatever a killed run left there is cleared when the next one opens it.
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'

export interface Engine {
  connection: DuckDBConnection
  scratchDir: string
  close: () => void
}

export interface EngineOptions {
  /** DuckDB's worker threads; all cores by default. */
  threads?: number
}

export async function openEngine(scratchDir: string, options: EngineOptions = {}): Promise<Engine> {
  const instance = await DuckDBInstance.create(':memory:', {
    temp_directory: join(tmpdir(), `cellstream-compactor-${process.pid}`),
    // DuckDB keeps every block it reads from a file in memory, for reads that come back to the
    // same file. The compactor reads each file once: for an hour of 21,600 small files the cache
    // made the merge half again as slow and closing the engine take seconds (freeing it).
    enable_external_file_cache: 'false',
    ...(options.threads === undefined ? {} : { threads: String(options.threads) })
  })
  const connection = await instance.connect()
  rmSync(scratchDir, { recursive: true, force: true })
  mkdirSync(scratchDir, { recursive: true })
  return {
    connection,
    scratchDir,
    close: () => {
      connection.closeSync()
      instance.closeSync()
      rmSync(scratchDir, { recursive: true, force: true })
    }
  }
}
