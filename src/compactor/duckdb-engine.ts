// The compactor's DuckDB: in memory, spilling to the system temp folder, all cores.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'

export interface Engine { connection: DuckDBConnection, close: () => void }

export async function openEngine (): Promise<Engine> {
  const instance = await DuckDBInstance.create(':memory:', { temp_directory: join(tmpdir(), `cellstream-compactor-${process.pid}`) })
  const connection = await instance.connect()
  return {
    connection,
    close: () => {
      connection.closeSync()
      instance.closeSync()
    }
  }
}
