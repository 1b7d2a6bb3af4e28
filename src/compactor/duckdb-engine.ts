// The compactor's DuckDB: in memory, spilling to the system temp folder, all cores. The scratch
// folder holds files passed between DuckDB and PostgreSQL (user metadata in, hourly rows out).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'

export interface Engine { connection: DuckDBConnection, scratchDir: string, close: () => void }

export async function openEngine (): Promise<Engine> {
  const instance = await DuckDBInstance.create(':memory:', { temp_directory: join(tmpdir(), `cellstream-compactor-${process.pid}`) })
  const connection = await instance.connect()
  const scratchDir = mkdtempSync(join(tmpdir(), 'cellstream-compactor-scratch-'))
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
