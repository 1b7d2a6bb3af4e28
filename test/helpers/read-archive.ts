// Reads an archive the way an outside user would: DuckDB over the hive-partitioned glob.
import { DuckDBInstance } from '@duckdb/node-api'
import { sqlString } from '../../src/archive/sql.ts'

export const ARCHIVE_GLOB = 'year=*/month=*/day=*/hour=*/*.parquet'

export async function queryArchive(
  archiveDir: string,
  sql: (source: string) => string
): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  try {
    const source = `read_parquet(${sqlString(`${archiveDir}/${ARCHIVE_GLOB}`)}, hive_partitioning = true, filename = true)`
    const reader = await connection.runAndReadAll(sql(source))
    return reader.getRowObjectsJS() as Array<Record<string, unknown>>
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}
