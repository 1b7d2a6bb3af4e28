// The compactor's DuckDB: in memory, spilling to the system temp folder, all cores. The scratch
// folder holds files passed between DuckDB and PostgreSQL (user metadata in, hourly rows out);
// the caller owns it exclusively (run.ts keeps it in the locked archive), so whatever a killed
// run left there is cleared when the next one opens it.
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'

export interface Engine { connection: DuckDBConnection, scratchDir: string, close: () => void }

export async function openEngine (scratchDir: string): Promise<Engine> {
  const instance = await DuckDBInstance.create(':memory:', { temp_directory: join(tmpdir(), `cellstream-compactor-${process.pid}`) })
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
