import { createHash } from 'node:crypto'
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { openEngine, type Engine } from '../../src/compactor/duckdb-engine.ts'
import { fileStats, mergeFiles } from '../../src/compactor/merge.ts'
import { decodeStruct, encodeStruct } from '../../src/compactor/thrift-compact.ts'
import { compactHours } from '../../src/compactor/run.ts'
import { DataError } from '../../src/lib/errors.ts'
import { hourDir, partFileName, versionDir } from '../../src/archive/layout.ts'
import { ensureHourVersion } from '../../src/archive/versions.ts'
import { testDatabase } from '../helpers/db.ts'
import { partRows } from './part-rows.ts'
import { hourlyTables } from '../helpers/hourly-tables.ts'

const HOUR = Date.parse('2026-11-02T19:00:00Z') / 1000

/** A writer-like file of one partition with offsets [first, last], written by DuckDB. */
async function partFile(
  engine: Engine,
  dir: string,
  partition: number,
  first: number,
  last: number,
  compression: string
): Promise<string> {
  const path = join(dir, partFileName('devices', partition, BigInt(first), BigInt(last)))
  await engine.connection.run(
    `COPY (${partRows(HOUR, partition, first, last)}) TO '${path}' (FORMAT parquet, COMPRESSION ${compression})`
  )
  return path
}

async function rows(engine: Engine, sql: string): Promise<Array<Record<string, unknown>>> {
  return (await engine.connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>
}

test('a footer decoded and encoded again is the same bytes', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-merge-'))
  const engine = await openEngine(join(dir, 'scratch'))
  t.teardown(async () => {
    engine.close()
    await rm(dir, { recursive: true, force: true })
  })
  const file = await readFile(await partFile(engine, dir, 0, 0, 300_000, 'zstd'))
  const length = file.readUInt32LE(file.length - 8)
  const footer = file.subarray(file.length - 8 - length, file.length - 8)
  t.true(Buffer.from(encodeStruct(decodeStruct(footer))).equals(footer))
})

test('large ZSTD files keep their bytes, the rest is encoded, duplicates go; same rows and order as a full sort, and the same file twice', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-merge-'))
  const engine = await openEngine(join(dir, 'scratch'))
  t.teardown(async () => {
    engine.close()
    await rm(dir, { recursive: true, force: true })
  })
  const inputs = [
    await partFile(engine, dir, 0, 0, 199_999, 'zstd'), // copied
    await partFile(engine, dir, 0, 200_000, 200_999, 'zstd'), // too small: encoded
    await partFile(engine, dir, 0, 201_000, 351_000, 'snappy'), // not ZSTD: encoded
    await partFile(engine, dir, 0, 351_001, 500_000, 'zstd'), // copied
    await partFile(engine, dir, 1, 0, 149_999, 'zstd'), // overlaps the next: deduplicated
    await partFile(engine, dir, 1, 100_000, 249_999, 'zstd'),
    await partFile(engine, dir, 2, 0, 130_000, 'zstd') // copied
  ]
  const stats = await fileStats(engine, inputs)
  const merged = join(dir, 'merged.parquet')
  const result = await mergeFiles(engine, stats, merged, dir)
  t.is(result.plan, 'ordered')
  t.is(result.copied.length, 3)
  const [expected] = await rows(
    engine,
    `SELECT count(DISTINCT (partition, "offset")) AS n FROM read_parquet([${inputs.map(p => `'${p}'`).join(', ')}])`
  )
  t.is(result.rowsWritten, Number(expected!.n))
  t.is(result.rowsRead - result.rowsWritten, 50_000)

  // The same rows as DuckDB's own sort of every input, each record once, and in key order.
  const all = `read_parquet([${inputs.map(p => `'${p}'`).join(', ')}])`
  const [diff] = await rows(
    engine,
    `SELECT
    (SELECT count(*) FROM (SELECT * FROM read_parquet('${merged}') EXCEPT ALL SELECT DISTINCT * FROM ${all})) AS extra,
    (SELECT count(*) FROM (SELECT DISTINCT * FROM ${all} EXCEPT ALL SELECT * FROM read_parquet('${merged}'))) AS missing`
  )
  t.deepEqual(diff, { extra: 0n, missing: 0n })
  const [order] = await rows(
    engine,
    `SELECT count(*) FILTER (WHERE k <= prev) AS unsorted FROM (
    SELECT partition * 1e9 + "offset" AS k, lag(partition * 1e9 + "offset") OVER (ORDER BY file_row_number) AS prev
    FROM read_parquet('${merged}', file_row_number = true))`
  )
  t.is(order!.unsorted, 0n)
  // Statistics and bloom filters still point at the right bytes: a filtered read agrees with a full one.
  const [filtered] = await rows(
    engine,
    `SELECT
    (SELECT count(*) FROM read_parquet('${merged}') WHERE id = '00000000-0000-0000-0000-000000001234' AND "offset" > 100000) AS a,
    (SELECT count(*) FROM (SELECT DISTINCT * FROM ${all}) WHERE id = '00000000-0000-0000-0000-000000001234' AND "offset" > 100000) AS b`
  )
  t.is(filtered!.a, filtered!.b)

  const again = join(dir, 'again.parquet')
  await mergeFiles(engine, stats, again, dir)
  const hash = async (path: string): Promise<string> =>
    createHash('sha256')
      .update(await readFile(path))
      .digest('hex')
  t.is(await hash(again), await hash(merged))
})

test('a copied file whose footer is fine but whose pages are damaged is named, and the hour and the tables are left as they were', async t => {
  const archiveDir = await mkdtemp(join(tmpdir(), 'cellstream-merge-'))
  const engine = await openEngine(join(archiveDir, '.scratch'))
  t.teardown(async () => {
    engine.close()
    await rm(archiveDir, { recursive: true, force: true })
  })
  const { url, db } = await testDatabase(t)
  const dir = versionDir(archiveDir, HOUR, await ensureHourVersion(archiveDir, HOUR))
  await partFile(engine, dir, 0, 0, 199_999, 'zstd')
  const damaged = await partFile(engine, dir, 1, 0, 199_999, 'zstd')
  // Garbage inside the email column's first pages: only decoding them can notice.
  const [chunk] = await rows(
    engine,
    `SELECT coalesce(dictionary_page_offset, data_page_offset) AS at, total_compressed_size AS size
    FROM parquet_metadata('${damaged}') WHERE path_in_schema = 'email' AND row_group_id = 0`
  )
  const handle = await open(damaged, 'r+')
  await handle.write(Buffer.alloc(Math.floor(Number(chunk!.size) / 2), 0xa5), 0, undefined, Number(chunk!.at) + 64)
  await handle.close()
  const names = (await readdir(hourDir(archiveDir, HOUR))).sort()

  const outcome = (await compactHours({ archiveDir, databaseUrl: url, hours: [HOUR] }))[0]!
  t.false(outcome.ok)
  if (outcome.ok) return
  t.true(outcome.error instanceof DataError)
  t.regex(outcome.error.message, /left as it was/)
  t.true(outcome.error.message.includes(damaged), outcome.error.message)
  t.deepEqual((await readdir(hourDir(archiveDir, HOUR))).sort(), names)
  t.deepEqual(await hourlyTables(db), { bytesHourly: [], userQuotaLimit: [] })
})
