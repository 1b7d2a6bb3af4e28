import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { hourDir, tempName } from '../../src/archive/layout.ts'
import { currentVersion, listHours } from '../../src/archive/versions.ts'
import { ArchiveBatch, type ArchiveRow } from '../../src/archive/batch.ts'
import { ParquetArchive } from '../../src/archive/parquet-archive.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { queryArchive } from '../helpers/read-archive.ts'
import { ArchiveSink } from '../../src/sinks/archive-sink.ts'
import type { StreamRecord } from '../../src/topology/index.ts'
import type { EnrichedEvent } from '../../src/traffic/types.ts'

const HOUR = Date.parse('2021-02-19T21:00:00Z') / 1000

function row(timestamp: number, offset: number, partition = 0): ArchiveRow {
  return {
    bytes: 100 + offset,
    timestamp,
    app: 'SKYPE',
    id: '00000000-0000-0000-0000-000000000001',
    antenna_id: '11111111-1111-1111-1111-111111111111',
    email: offset % 2 === 0 ? 'andres@gmail.com' : null,
    quota: offset % 2 === 0 ? 200000 : null,
    topic: 'devices',
    partition,
    offset
  }
}

async function writeRows(dir: string, rows: ArchiveRow[]): Promise<void> {
  const archive = new ParquetArchive(dir)
  await archive.write(ArchiveBatch.of(rows))
  await archive.close()
}

test('rows land in the folder of their UTC event hour, bounds included', async t => {
  const dir = await tempDir(t)
  await writeRows(dir, [row(HOUR - 1, 0), row(HOUR, 1), row(HOUR + 1800, 2), row(HOUR + 3599, 3), row(HOUR + 3600, 4)])
  t.deepEqual(await listHours(dir), [HOUR - 3600, HOUR, HOUR + 3600])
  const rows = await queryArchive(
    dir,
    source => `SELECT "offset", year, month, day, hour FROM ${source} ORDER BY "offset"`
  )
  t.deepEqual(
    rows.map(r => [Number(r.offset), Number(r.day), Number(r.hour)]),
    [
      [0, 19, 20],
      [1, 19, 21],
      [2, 19, 21],
      [3, 19, 21],
      [4, 19, 22]
    ]
  )
  t.deepEqual(await readdir(hourDir(dir, HOUR)), ['part-devices-0-1-3.parquet'])
})

test('files have the archive schema and the rows as given', async t => {
  const dir = await tempDir(t)
  const input = [row(HOUR + 5, 10), row(HOUR + 6, 11)]
  await writeRows(dir, input)
  const described = await queryArchive(
    dir,
    source => `DESCRIBE SELECT * EXCLUDE (filename, year, month, day, hour) FROM ${source}`
  )
  t.deepEqual(
    described.map(c => [c.column_name, c.column_type]),
    [
      ['bytes', 'BIGINT'],
      ['timestamp', 'BIGINT'],
      ['app', 'VARCHAR'],
      ['id', 'VARCHAR'],
      ['antenna_id', 'VARCHAR'],
      ['email', 'VARCHAR'],
      ['quota', 'BIGINT'],
      ['topic', 'VARCHAR'],
      ['partition', 'INTEGER'],
      ['offset', 'BIGINT']
    ]
  )
  const rows = await queryArchive(
    dir,
    source => `SELECT * EXCLUDE (filename, year, month, day, hour) FROM ${source} ORDER BY "offset"`
  )
  t.deepEqual(
    rows.map(r => ({
      ...r,
      bytes: Number(r.bytes),
      timestamp: Number(r.timestamp),
      quota: r.quota === null ? null : Number(r.quota),
      offset: Number(r.offset)
    })),
    input
  )
})

test('no temp file remains after a write, one file per partition and hour', async t => {
  const dir = await tempDir(t)
  const archive = new ParquetArchive(dir)
  const batch = ArchiveBatch.of([row(HOUR, 0), row(HOUR + 1, 1, 1)])
  t.is(batch.size, 2)
  const files = await archive.write(batch)
  await archive.close()
  t.is(files.length, 2)
  t.deepEqual((await readdir(hourDir(dir, HOUR))).sort(), ['part-devices-0-0-0.parquet', 'part-devices-1-1-1.parquet'])
})

test('a flush that died before its rename leaves nothing a reader counts', async t => {
  const dir = await tempDir(t)
  await writeRows(dir, [row(HOUR, 0)])
  // What a crash between the write and the rename leaves behind.
  await writeFile(join(hourDir(dir, HOUR), tempName('part-devices-0-1-1.parquet')), 'PAR1 half a file')
  const rows = await queryArchive(dir, source => `SELECT count(*) AS n FROM ${source}`)
  t.is(Number(rows[0]!.n), 1)
})

test('the same rows flushed twice give the same file, overwritten', async t => {
  const dir = await tempDir(t)
  const rows = [row(HOUR + 7, 5), row(HOUR + 8, 6), row(HOUR + 9, 7)]
  await writeRows(dir, rows)
  await writeRows(dir, [...rows].reverse())
  t.deepEqual(await readdir(hourDir(dir, HOUR)), ['part-devices-0-5-7.parquet'])
  const count = await queryArchive(dir, source => `SELECT count(*) AS n FROM ${source}`)
  t.is(Number(count[0]!.n), 3)
})

test('concurrent writers of different partitions share the hour folders', async t => {
  const dir = await tempDir(t)
  const writers = [0, 1, 2, 3].map(partition => {
    const archive = new ParquetArchive(dir)
    return { archive, batch: ArchiveBatch.of(Array.from({ length: 50 }, (_, i) => row(HOUR + i * 100, i, partition))) }
  })
  await Promise.all(writers.map(w => w.archive.write(w.batch)))
  await Promise.all(writers.map(w => w.archive.close()))
  t.is(await currentVersion(dir, HOUR), 0)
  const rows = await queryArchive(
    dir,
    source => `SELECT partition, count(*) AS n FROM ${source} GROUP BY ALL ORDER BY partition`
  )
  t.deepEqual(
    rows.map(r => [Number(r.partition), Number(r.n)]),
    [
      [0, 50],
      [1, 50],
      [2, 50],
      [3, 50]
    ]
  )
})

test('text with commas, quotes and line breaks, and empty text, round-trip exactly', async t => {
  const dir = await tempDir(t)
  const input = [
    { ...row(HOUR, 0), app: 'a,b', id: 'say "hi"', antenna_id: 'line\nbreak\r\n', email: '' },
    { ...row(HOUR, 1), app: '"', id: ',', antenna_id: '""', email: null, quota: null },
    { ...row(HOUR, 2), app: 'ñandú ✓', email: 'x,"y"@z', quota: 0 }
  ]
  await writeRows(dir, input)
  const rows = await queryArchive(
    dir,
    source => `SELECT * EXCLUDE (filename, year, month, day, hour) FROM ${source} ORDER BY "offset"`
  )
  t.deepEqual(
    rows.map(r => ({
      ...r,
      bytes: Number(r.bytes),
      timestamp: Number(r.timestamp),
      quota: r.quota === null ? null : Number(r.quota),
      offset: Number(r.offset)
    })),
    input
  )
})

test('batches written at the same time by one writer all land, each in its files', async t => {
  const dir = await tempDir(t)
  const archive = new ParquetArchive(dir)
  const batches = [0, 1, 2, 3].map(partition =>
    ArchiveBatch.of(
      Array.from({ length: 3000 }, (_, i) => ({ ...row(HOUR + i, i, partition), id: `user-${partition}-${i % 7}` }))
    )
  )
  await Promise.all(batches.map(batch => archive.write(batch)))
  await archive.close()
  const rows = await queryArchive(
    dir,
    source =>
      `SELECT partition, count(*) AS n, count(DISTINCT "offset") AS offsets, bool_and(id LIKE 'user-' || partition || '-%') AS own FROM ${source} GROUP BY ALL ORDER BY partition`
  )
  t.deepEqual(
    rows.map(r => [Number(r.partition), Number(r.n), Number(r.offsets), r.own]),
    [0, 1, 2, 3].map(p => [p, 3000, 3000, true])
  )
})

test("a written batch's blocks are reused by later batches, and no rows mix: every row lands as given, once", async t => {
  const dir = await tempDir(t)
  const archive = new ParquetArchive(dir, { pooledBlocks: 4 })
  const input: ArchiveRow[] = []
  const fill = (partition: number, from: number, count: number): ReturnType<ParquetArchive['batch']> => {
    const batch = archive.batch()
    for (let i = from; i < from + count; i++) {
      // Values that differ by partition and row, large byte counts and offsets included.
      const r = {
        ...row(HOUR + (i % 3600), i * 7 + 2 ** 40, partition),
        bytes: 2 ** 40 + i * partition,
        quota: i % 3 === 0 ? null : i
      }
      input.push(r)
      t.is(batch.add(r, r), undefined)
    }
    return batch
  }
  // The second batch fills while the first is written; the third and fourth take its blocks.
  const first = archive.write(fill(0, 0, 5000))
  const second = fill(1, 0, 3000)
  await first
  await archive.write(second)
  await archive.write(fill(2, 0, 9000))
  await archive.write(fill(0, 5000, 2500))
  await archive.close()
  const rows = await queryArchive(
    dir,
    source => `SELECT bytes, "timestamp", quota, partition, "offset" FROM ${source} ORDER BY partition, "offset"`
  )
  const key = (r: Record<string, unknown>): string =>
    [r.bytes, r.timestamp, r.quota, r.partition, r.offset].map(v => (v === null ? 'null' : String(Number(v)))).join(' ')
  t.deepEqual(
    rows.map(key),
    input.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset)).map(r => key({ ...r }))
  )
})

function dictionaryRows(): { rowOf: (offset: number) => ArchiveRow; expected: Map<number, string> } {
  const expected = new Map<number, string>()
  const rowOf = (offset: number): ArchiveRow => {
    const id = `user-${offset % 13}-${Math.floor(offset / 40)}`
    expected.set(offset, id)
    return { ...row(HOUR + offset, offset), id, email: `${id}@example.com` }
  }
  return { rowOf, expected }
}

async function checkDictionaryRows(t: ExecutionContext, dir: string, expected: Map<number, string>): Promise<void> {
  const rows = await queryArchive(
    dir,
    source => `SELECT "offset", id, email FROM ${source} WHERE partition = 0 ORDER BY "offset"`
  )
  t.is(rows.length, expected.size)
  for (const r of rows) {
    const id = expected.get(Number(r.offset))
    t.deepEqual([r.id, r.email], [id, `${id}@example.com`])
  }
}

test("batches on the archive's shared dictionary keep their texts: texts added during writes, batches of other dictionaries between, a write after close", async t => {
  const dir = await tempDir(t)
  const archive = new ParquetArchive(dir)
  const { rowOf, expected } = dictionaryRows()
  const writes: Array<Promise<unknown>> = []
  let batch = archive.batch()
  for (let offset = 0; offset < 400; offset++) {
    // Each row waits for the timers, so rows and their new texts keep arriving during the writes.
    await new Promise(resolve => setTimeout(resolve, 0))
    const next = rowOf(offset)
    batch.add(next, next)
    if (offset % 50 === 49) {
      writes.push(archive.write(batch))
      batch = archive.batch()
    }
    if (offset % 120 === 119)
      writes.push(archive.write(ArchiveBatch.of([{ ...row(HOUR, 10_000 + offset, 1), id: `other-${offset}` }])))
  }
  await Promise.all(writes)
  await archive.close()
  // Texts DuckDB had before the close: the next write loads them again into a new DuckDB.
  const again = archive.batch()
  for (let offset = 396; offset < 400; offset++) {
    const copy = { ...rowOf(offset), offset: offset + 1000 }
    again.add(copy, copy)
  }
  for (let offset = 396; offset < 400; offset++) expected.set(offset + 1000, expected.get(offset)!)
  await archive.write(again)
  await archive.close()
  await checkDictionaryRows(t, dir, expected)
  const others = await queryArchive(
    dir,
    source => `SELECT "offset", id FROM ${source} WHERE partition = 1 ORDER BY "offset"`
  )
  t.deepEqual(
    others.map(r => r.id),
    [119, 239, 359].map(o => `other-${o}`)
  )
})

test('a full dictionary is left for a new one, and a batch on the old one written afterwards keeps its texts', async t => {
  const dir = await tempDir(t)
  const archive = new ParquetArchive(dir, { maxDictionaryTexts: 64 })
  const { rowOf, expected } = dictionaryRows()
  const stale = archive.batch()
  for (let offset = 1000; offset < 1010; offset++) stale.add(rowOf(offset), rowOf(offset))
  for (let from = 0; from < 400; from += 50) {
    const batch = archive.batch()
    for (let offset = from; offset < from + 50; offset++) batch.add(rowOf(offset), rowOf(offset))
    await archive.write(batch)
  }
  t.not(archive.batch().dictionary, stale.dictionary)
  await archive.write(stale)
  await archive.close()
  await checkDictionaryRows(t, dir, expected)
})

test('the archive sink refuses a record Parquet cannot hold as it is (an unpaired surrogate, a fraction) and writes the others', async t => {
  const dir = await tempDir(t)
  const archive = new ParquetArchive(dir)
  t.teardown(() => archive.close())
  const sink = new ArchiveSink(archive)
  const record = (r: ArchiveRow): StreamRecord<unknown, EnrichedEvent> => ({
    key: null,
    value: r,
    timestamp: r.timestamp * 1000,
    raw: {
      key: null,
      value: null,
      timestamp: 0,
      source: { topic: r.topic, partition: r.partition, offset: BigInt(r.offset) }
    }
  })
  const bad = [
    { ...row(HOUR, 1), app: 'SK\ud800PE' },
    { ...row(HOUR, 2), email: 'x\udc00@gmail.com' },
    { ...row(HOUR, 3), bytes: 1.5 }
  ]
  for (const r of [row(HOUR, 0), ...bad, row(HOUR, 4)]) sink.add(record(r))
  const refused = (await sink.flush()) ?? []
  t.deepEqual(
    refused.map(r => r.record.raw.source.offset),
    [1n, 2n, 3n]
  )
  t.regex(refused[0]!.error, /unpaired surrogate/)
  t.regex(refused[2]!.error, /whole number/)
  const rows = await queryArchive(dir, source => `SELECT "offset", app FROM ${source} ORDER BY "offset"`)
  t.deepEqual(
    rows.map(r => [Number(r.offset), r.app]),
    [
      [0, 'SKYPE'],
      [4, 'SKYPE']
    ]
  )
  t.deepEqual(await sink.flush(), [], 'a refusal is reported once')
})
