// Reads an archive in object storage the way its documented readers do (docs/archive.md,
// "Object storage"): each hour's manifest, then only the files it counts as data, downloaded
// to a temp folder and read with DuckDB.
import type { ExecutionContext } from 'ava'
import { DuckDBInstance } from '@duckdb/node-api'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArchiveUrl } from '../../src/archive/archive-url.ts'
import { hourLabel } from '../../src/archive/layout.ts'
import { S3Archive, type HourView } from '../../src/archive/s3-archive.ts'
import { sqlList } from '../../src/archive/sql.ts'
import { s3WorkDir } from '../../src/compactor/s3-compact.ts'

/** The archive's URL; the local folder its compactor runs keep (s3-compact.ts) goes when the test ends. */
export function s3ArchiveUrl(t: ExecutionContext, url: string): string {
  const location = parseArchiveUrl(url)
  if (location.kind !== 's3') throw new Error(`not an s3:// URL: ${url}`)
  t.teardown(() => rm(s3WorkDir(location.url), { recursive: true, force: true }))
  return url
}

export function openS3Archive(t: ExecutionContext, url: string, env: Record<string, string>): S3Archive {
  const location = parseArchiveUrl(url)
  if (location.kind !== 's3') throw new Error(`not an s3:// URL: ${url}`)
  const archive = new S3Archive(location, env)
  t.teardown(() => archive.close())
  return archive
}

/** Every hour's view, by hour label. */
export async function hourViews(archive: S3Archive): Promise<Map<string, HourView>> {
  const views = new Map<string, HourView>()
  for (const hour of await archive.listHours()) views.set(hourLabel(hour), await archive.view(hour))
  return views
}

/**
 * Runs `sql` over every data file of the archive (`source`: a read_parquet of them, with the
 * file's hour as `hour_start`, epoch seconds), and returns its one row as numbers.
 */
export async function queryS3Archive(
  archive: S3Archive,
  sql: (source: string) => string
): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-s3-read-'))
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  try {
    const paths: string[] = []
    for (const hour of await archive.listHours()) {
      const view = await archive.view(hour)
      for (const [i, name] of view.files.entries()) {
        const path = join(dir, `${hour}-${i}.parquet`)
        await archive.download(hour, name, path)
        paths.push(path)
      }
    }
    if (paths.length === 0) return {}
    const source = `(SELECT * EXCLUDE (filename), CAST(split_part(parse_filename(filename), '-', 1) AS BIGINT) AS hour_start
      FROM read_parquet(${sqlList(paths)}, filename = true))`
    const reader = await connection.runAndReadAll(sql(source))
    const [row] = reader.getRowObjectsJS()
    return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]))
  } finally {
    connection.closeSync()
    instance.closeSync()
    await rm(dir, { recursive: true, force: true })
  }
}
