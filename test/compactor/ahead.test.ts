import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { cp, mkdir, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test, { type ExecutionContext } from 'ava'
import { DuckDBInstance } from '@duckdb/node-api'
import { aheadCache, compactAhead, type AheadHourResult, type PieceRows } from '../../src/compactor/ahead.ts'
import { LOCK_FILE } from '../../src/compactor/lock.ts'
import { AHEAD_DIR, aheadDir } from '../../src/compactor/pieces.ts'
import { compactHours } from '../../src/compactor/run.ts'
import { dueHours, watchArchive, type WatchOptions } from '../../src/compactor/watch.ts'
import { type HourResult } from '../../src/compactor/compact-hour.ts'
import {
  compactedFileName,
  hourDir,
  hourLabel,
  HOUR_SECONDS,
  parsePartFileName,
  partFileName,
  tempName,
  versionDir,
  VERSIONS_DIR
} from '../../src/archive/layout.ts'
import { ensureHourVersion, listHours } from '../../src/archive/versions.ts'
import { sqlList, sqlString } from '../../src/archive/sql.ts'
import { type Db } from '../../src/db/pool.ts'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { archiveFromSimulation, type ArchiveFixture } from '../helpers/archive-fixture.ts'
import { BIN, holdsLock, killAfter } from './kill-after.ts'
import { partRows } from './part-rows.ts'
import { hourlyTables, provisionUsers } from '../helpers/hourly-tables.ts'

const EVENING = Date.parse('2026-11-02T18:00:00Z') / 1000
// Small pieces, so that the simulated hours (a few thousand rows per partition) get several.
const SMALL: PieceRows = { open: 1500, closed: 300 }
const CHILD = fileURLToPath(new URL('./ahead-child.ts', import.meta.url))

interface FixtureHour {
  fixture: ArchiveFixture
  hour: number
  url: string
  db: Db
}

/** A simulated hour of the archive in 100-record commits, and a database with its users. */
async function fixtureHour(
  t: ExecutionContext,
  seed: string,
  options: { replayEvery?: number } = {}
): Promise<FixtureHour> {
  const fixture = await archiveFromSimulation(t, {
    traffic: { seed, users: 300 },
    from: EVENING,
    to: EVENING + HOUR_SECONDS,
    commit: 100,
    ...options
  })
  t.deepEqual(await listHours(fixture.archiveDir), [EVENING])
  const { url, db } = await testDatabase(t)
  await provisionUsers(db, fixture.users)
  return { fixture, hour: EVENING, url, db }
}

/** The same, compacted ahead in one round after the hour's end: at least three pieces. */
async function fixtureWithPieces(
  t: ExecutionContext,
  seed: string,
  options: { replayEvery?: number } = {}
): Promise<FixtureHour & { pieces: Awaited<ReturnType<typeof sidecars>> }> {
  const setup = await fixtureHour(t, seed, options)
  await aheadRound(setup.fixture.archiveDir, setup.hour, setup.hour + HOUR_SECONDS + 1)
  const pieces = await sidecars(setup.fixture.archiveDir, setup.hour)
  t.true(pieces.length >= 3)
  return { ...setup, pieces }
}

/** A copy of the archive (links stay links), to compact another way. */
async function copyArchive(t: ExecutionContext, archiveDir: string): Promise<string> {
  const copy = join(await tempDir(t), 'archive')
  await cp(archiveDir, copy, { recursive: true, verbatimSymlinks: true })
  return copy
}

async function query(sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

/** Every row of the hour's compacted file, in file order. */
async function compactedRows(archiveDir: string, hour: number): Promise<Array<Record<string, unknown>>> {
  const path = join(hourDir(archiveDir, hour), compactedFileName(hour))
  return query(
    `SELECT * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(path)}, file_row_number = true) ORDER BY file_row_number`
  )
}

/** The rows of the given files, each once (the files hold no two different copies of a record), sorted as a compacted file is. */
async function expectedRows(paths: readonly string[]): Promise<Array<Record<string, unknown>>> {
  return query(`SELECT DISTINCT * FROM read_parquet(${sqlList(paths)}) ORDER BY topic, partition, "offset"`)
}

async function hourFiles(archiveDir: string, hour: number): Promise<string[]> {
  const dir = hourDir(archiveDir, hour)
  return (await readdir(dir))
    .filter(name => name.endsWith('.parquet'))
    .sort()
    .map(name => join(dir, name))
}

/** The hourly tables are the ground truth of the fixture's records. */
async function assertTruth(t: ExecutionContext, db: Db, fixture: ArchiveFixture): Promise<void> {
  const tables = await hourlyTables(db)
  t.deepEqual(tables.bytesHourly, fixture.truth.bytesHourly)
  t.deepEqual(tables.userQuotaLimit, fixture.truth.userQuotaLimit)
}

async function compactOne(archiveDir: string, url: string, hour: number): Promise<HourResult> {
  const outcome = (await compactHours({ archiveDir, databaseUrl: url, hours: [hour] }))[0]!
  if (!outcome.ok) throw outcome.error
  return outcome.result
}

async function aheadRound(
  archiveDir: string,
  hour: number,
  now: number,
  cache = aheadCache()
): Promise<AheadHourResult> {
  const outcome = (await compactAhead({ archiveDir, hours: [hour], now, cache, pieceRows: SMALL }))[0]!
  if (!outcome.ok) throw outcome.error
  return outcome.result
}

/** Writer files of the hour held by the pieces of its sidecars, by piece. */
async function sidecars(
  archiveDir: string,
  hour: number
): Promise<Array<{ piece: string; inputs: string[]; offsetMin: bigint; offsetMax: bigint; partition: number }>> {
  const dir = aheadDir(archiveDir, hour)
  const names = (await readdir(dir).catch(() => [])).filter(name => name.endsWith('.json'))
  return Promise.all(
    names.map(async name => {
      const s = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
        piece: string
        inputs: Array<{ name: string }>
        offsetMin: string
        offsetMax: string
        partition: number
      }
      return {
        piece: s.piece,
        inputs: s.inputs.map(i => i.name),
        offsetMin: BigInt(s.offsetMin),
        offsetMax: BigInt(s.offsetMax),
        partition: s.partition
      }
    })
  )
}

/** Rewrites a writer file as a replay with new metadata would: same records, other emails, a new file renamed over it. */
async function rewriteEmails(path: string, target = path, where = 'true'): Promise<void> {
  const temp = join(path, '..', tempName('rewrite'))
  await query(`COPY (SELECT * REPLACE (email || '.replayed' AS email) FROM read_parquet(${sqlString(path)}) WHERE ${where})
    TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION snappy)`)
  await rename(temp, target)
}

test('an hour compacted with pieces made ahead as its files arrived gives the same rows in the same order, and the same tables, as without them: the ground truth', async t => {
  const { fixture, hour, url, db } = await fixtureHour(t, 'ahead-same', { replayEvery: 7 })
  const plain = await copyArchive(t, fixture.archiveDir)

  // The files arrive in offset order, a batch at a time, with a round of compaction ahead after each.
  const dir = hourDir(fixture.archiveDir, hour)
  const held = join(await tempDir(t), 'arriving')
  await mkdir(held)
  const names = (await readdir(dir)).sort((a, b) =>
    Number(parsePartFileName(a)!.firstOffset - parsePartFileName(b)!.firstOffset)
  )
  for (const name of names) await rename(join(dir, name), join(held, name))
  const cache = aheadCache()
  let written = 0
  for (let i = 0; i < names.length; i += 40) {
    for (const name of names.slice(i, i + 40)) await rename(join(held, name), join(dir, name))
    written += (await aheadRound(fixture.archiveDir, hour, hour + 60 + i, cache)).piecesWritten
    t.deepEqual(
      (await readdir(dir)).sort(),
      names.slice(0, i + 40).sort(),
      'readers see the writer files, nothing else'
    )
  }
  const closed = await aheadRound(fixture.archiveDir, hour, hour + HOUR_SECONDS + 1, cache)
  t.true(written > 3, `${written} pieces while the hour was open`)
  t.true(closed.piecesWritten > 0, "the closed hour's tails become pieces")

  const ahead = await compactOne(fixture.archiveDir, url, hour)
  t.is(ahead.piecesUsed, closed.pieces)
  t.true(ahead.duplicates > 0, 'the replays wrote duplicates')
  const { url: plainUrl, db: plainDb } = await testDatabase(t)
  await provisionUsers(plainDb, fixture.users)
  const reference = await compactOne(plain, plainUrl, hour)
  t.is(reference.piecesUsed, 0)

  t.deepEqual(await compactedRows(fixture.archiveDir, hour), await compactedRows(plain, hour))
  t.deepEqual(await hourlyTables(db), await hourlyTables(plainDb))
  await assertTruth(t, db, fixture)
  t.is(ahead.rowsWritten, fixture.rows)
  t.deepEqual(
    [ahead.rowsRead, ahead.duplicates, ahead.filesMerged],
    [reference.rowsRead, reference.duplicates, reference.filesMerged]
  )
  t.deepEqual(await readdir(join(fixture.archiveDir, AHEAD_DIR)), [], "the hour's pieces are gone")
})

test("a piece whose file was rewritten, or whose file vanished, is not used: the rows are the files' as they are now", async t => {
  const { fixture, hour, url, db, pieces } = await fixtureWithPieces(t, 'ahead-changed')
  const dir = hourDir(fixture.archiveDir, hour)

  // A replay rewrote a file under its own name: same records, other emails, another size.
  const [rewritten, vanishing] = [pieces[0]!.inputs[1]!, pieces[1]!.inputs[0]!]
  await rewriteEmails(join(dir, rewritten))
  // Another file vanished: its records came again cut differently, in two files.
  const part = parsePartFileName(vanishing)!
  const middle = part.firstOffset + (part.lastOffset - part.firstOffset) / 2n
  await rewriteEmails(
    join(dir, vanishing),
    join(dir, partFileName(part.topic, part.partition, part.firstOffset, middle)),
    `"offset" <= ${middle}`
  )
  await rewriteEmails(
    join(dir, vanishing),
    join(dir, partFileName(part.topic, part.partition, middle + 1n, part.lastOffset)),
    `"offset" > ${middle}`
  )
  await rm(join(dir, vanishing))

  const expected = await expectedRows(await hourFiles(fixture.archiveDir, hour))
  const result = await compactOne(fixture.archiveDir, url, hour)
  t.is(result.piecesUsed, pieces.length - 2)
  t.is(result.duplicates, 0)
  const rows = await compactedRows(fixture.archiveDir, hour)
  t.deepEqual(rows, expected)
  t.true(rows.filter(r => typeof r.email === 'string' && r.email.endsWith('.replayed')).length > 0)
  await assertTruth(t, db, fixture)
})

/**
 * Replaces a writer file as a writer would, renaming a new file over it, by one of the same size
 * with other content: its rows with one email for all, in ZSTD (smaller than the writer's
 * Snappy), padded to the old size just before the footer (readers find the footer from the end
 * and the pages by their offsets: the padding is never read).
 */
async function replaceSameSize(path: string): Promise<void> {
  const temp = join(path, '..', tempName('same-size'))
  await query(`COPY (SELECT * REPLACE (CASE WHEN email IS NULL THEN NULL ELSE 'same-size@example.com' END AS email) FROM read_parquet(${sqlString(path)}))
    TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION zstd)`)
  const bytes = await readFile(temp)
  const footer = bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8)
  const padding = (await stat(path)).size - bytes.length
  if (padding < 0) throw new Error(`the new content of ${path} is ${-padding} bytes too large`)
  await writeFile(temp, Buffer.concat([bytes.subarray(0, footer), Buffer.alloc(padding), bytes.subarray(footer)]))
  await rename(temp, path)
}

test("a file replaced by one of the same size with other content (renamed over it, as a writer does) is not stood for by its piece: the rows are the new file's", async t => {
  const { fixture, hour, url, db, pieces } = await fixtureWithPieces(t, 'ahead-same-size')
  const path = join(hourDir(fixture.archiveDir, hour), pieces[0]!.inputs[0]!)
  const before = await stat(path, { bigint: true })
  await replaceSameSize(path)
  const after = await stat(path, { bigint: true })
  t.is(after.size, before.size, 'only the modification time and the inode tell the files apart')
  t.not(after.ino, before.ino)

  const expected = await expectedRows(await hourFiles(fixture.archiveDir, hour))
  const result = await compactOne(fixture.archiveDir, url, hour)
  t.is(result.piecesUsed, pieces.length - 1)
  t.is(result.rowsWritten, fixture.rows)
  const rows = await compactedRows(fixture.archiveDir, hour)
  t.deepEqual(rows, expected)
  t.true(rows.some(r => r.email === 'same-size@example.com'))
  await assertTruth(t, db, fixture)
})

test("a replay overlapping a piece's offsets is deduplicated exactly, at the close or by the next round ahead", async t => {
  const { fixture, hour, url, db } = await fixtureHour(t, 'ahead-replay')
  // Two copies of the archive, with the same pieces (a piece stands only for the very files it was made from).
  const atClose = await copyArchive(t, fixture.archiveDir)
  await aheadRound(atClose, hour, hour + 1800)
  await aheadRound(fixture.archiveDir, hour, hour + 1800)
  const pieces = await sidecars(fixture.archiveDir, hour)
  t.true(pieces.length >= 2)
  t.deepEqual((await sidecars(atClose, hour)).map(p => p.inputs).sort(), pieces.map(p => p.inputs).sort())
  // A crashed writer replays the end of a piece and what follows, as one file of another range.
  const piece = pieces[0]!
  const from = piece.offsetMax - 150n
  const to = piece.offsetMax + 150n
  const name = partFileName('devices', piece.partition, from, to)
  await query(`COPY (SELECT * FROM read_parquet(${sqlList(await hourFiles(fixture.archiveDir, hour))})
    WHERE partition = ${piece.partition} AND "offset" BETWEEN ${from} AND ${to} ORDER BY "offset")
    TO ${sqlString(join(hourDir(fixture.archiveDir, hour), name))} (FORMAT parquet, COMPRESSION snappy)`)
  await cp(join(hourDir(fixture.archiveDir, hour), name), join(hourDir(atClose, hour), name))
  const [copies] = await query(
    `SELECT count(*) AS n FROM read_parquet(${sqlString(join(hourDir(fixture.archiveDir, hour), name))})`
  )
  const replayed = Number(copies!.n)
  t.true(replayed > 100)
  const expected = await expectedRows(await hourFiles(fixture.archiveDir, hour))
  t.is(expected.length, fixture.rows)

  // At the close: the piece and the replay form a group that is deduplicated.
  const { url: closeUrl, db: closeDb } = await testDatabase(t)
  await provisionUsers(closeDb, fixture.users)
  const closeResult = await compactOne(atClose, closeUrl, hour)
  t.is(closeResult.piecesUsed, pieces.length)
  t.is(closeResult.duplicates, replayed)
  t.deepEqual(await compactedRows(atClose, hour), expected)
  await assertTruth(t, closeDb, fixture)

  // Ahead: the next round drops the piece and encodes its files again with the replay.
  const round = await aheadRound(fixture.archiveDir, hour, hour + HOUR_SECONDS + 1)
  t.true(round.piecesDropped >= 1)
  const result = await compactOne(fixture.archiveDir, url, hour)
  t.is(result.duplicates, replayed)
  t.deepEqual(await compactedRows(fixture.archiveDir, hour), expected)
  await assertTruth(t, db, fixture)
})

test('what an interrupted round leaves (a temp file, a piece without its sidecar, a sidecar of a cut piece) is never used', async t => {
  const { fixture, hour, url, db, pieces } = await fixtureWithPieces(t, 'ahead-interrupted')
  const ahead = aheadDir(fixture.archiveDir, hour)
  // Killed after the piece's rename, before its sidecar's: the sidecar is gone. And the piece
  // holds other rows than its name says (those of another piece), so using it would show.
  await rm(join(ahead, pieces[0]!.piece.replace(/\.parquet$/, '.json')))
  await cp(join(ahead, pieces[1]!.piece), join(ahead, pieces[0]!.piece))
  // Killed while writing: a temp file, and a sidecar whose piece was cut short.
  await writeFile(join(ahead, tempName('piece.parquet')), 'PAR1 half a piece')
  await writeFile(join(ahead, tempName(pieces[2]!.piece.replace(/\.parquet$/, '.json'))), '{"piece": "')
  await truncate(join(ahead, pieces[2]!.piece), 1000)

  const result = await compactOne(fixture.archiveDir, url, hour)
  t.is(result.piecesUsed, pieces.length - 2)
  await assertTruth(t, db, fixture)
  t.is(result.rowsWritten, fixture.rows)
  const [counts] = await query(
    `SELECT count(*) AS n, count(DISTINCT (partition, "offset")) AS d FROM read_parquet(${sqlString(join(hourDir(fixture.archiveDir, hour), compactedFileName(hour)))})`
  )
  t.deepEqual([Number(counts!.n), Number(counts!.d)], [fixture.rows, fixture.rows])
})

test("kill -9 at random moments of compaction ahead, then the hour's compaction: exact tables, every event once", async t => {
  const { fixture, hour, url, db } = await fixtureHour(t, 'ahead-kill', { replayEvery: 5 })
  const args = [CHILD, fixture.archiveDir, String(hour), String(SMALL.open), String(SMALL.closed)]
  // The child runs rounds until it is killed: each kill comes a random moment after its k-th
  // round, in a later round (writing pieces) or in the deletion of the pieces.
  let landed = 0
  for (let kill = 0; kill < 5; kill++) {
    const after = 1 + Math.floor(Math.random() * 3)
    const run = await killAfter(args, Math.random() * 300, ({ stdout }) => rounds(stdout) >= after)
    t.true(run.killed, `the child ended by itself: ${run.stderr}`)
    if (run.killed && rounds(run.stdout) >= after) landed++
  }
  t.log(`${landed} kills landed after a round; ${(await sidecars(fixture.archiveDir, hour)).length} pieces left`)
  t.is(landed, 5, 'every kill landed once the child had written pieces')
  // Every sidecar left describes a whole piece.
  for (const piece of await sidecars(fixture.archiveDir, hour)) {
    const [n] = await query(
      `SELECT count(*) AS n FROM read_parquet(${sqlString(join(aheadDir(fixture.archiveDir, hour), piece.piece))})`
    )
    t.true(Number(n!.n) > 0)
  }

  const result = await compactOne(fixture.archiveDir, url, hour)
  t.is(result.rowsWritten, fixture.rows)
  await assertTruth(t, db, fixture)
  const [counts] = await query(
    `SELECT count(*) AS n, count(DISTINCT (partition, "offset")) AS d FROM read_parquet(${sqlString(join(hourDir(fixture.archiveDir, hour), compactedFileName(hour)))})`
  )
  t.deepEqual([Number(counts!.n), Number(counts!.d)], [fixture.rows, fixture.rows])
  t.deepEqual(await readdir(join(fixture.archiveDir, AHEAD_DIR)), [])
})

const rounds = (stdout: string): number => stdout.split('\n').filter(line => line.startsWith('round ')).length

/**
 * Steps of an hour's compaction a test can see from outside, in order: it holds the lock, it
 * builds the next version, the merged file is in it, the tables are written (the version is
 * renamed, its manifest beside it), the hour's link shows the compacted file. Each kill waits
 * for one of them, in a run that holds the lock.
 */
const STAGES: Array<{ name: string; reached: (archiveDir: string, hour: number) => boolean }> = [
  { name: 'locked', reached: () => true },
  { name: 'building', reached: (archiveDir, hour) => building(archiveDir, hour) !== undefined },
  {
    name: 'merged',
    reached: (archiveDir, hour) => {
      const dir = building(archiveDir, hour)
      return dir !== undefined && existsSync(join(dir, compactedFileName(hour)))
    }
  },
  {
    name: 'stored',
    reached: (archiveDir, hour) =>
      building(archiveDir, hour) === undefined && versions(archiveDir, hour).some(name => name.endsWith('.inputs.json'))
  },
  {
    name: 'switched',
    reached: (archiveDir, hour) => existsSync(join(hourDir(archiveDir, hour), compactedFileName(hour)))
  }
]

/** The entries of the versions folder that belong to `hour`. */
function versions(archiveDir: string, hour: number): string[] {
  return readdirSync(join(archiveDir, VERSIONS_DIR)).filter(name => name.startsWith(`${hourLabel(hour)}.`))
}

/** The version folder a compaction of `hour` is building, if any. */
function building(archiveDir: string, hour: number): string | undefined {
  const name = versions(archiveDir, hour).find(n => n.endsWith('.new'))
  return name === undefined ? undefined : join(archiveDir, VERSIONS_DIR, name)
}

// Serial: the kills wait on the child's progress polled from this process, so the other tests of
// the file must not keep its event loop busy meanwhile.
test.serial(
  "kill -9 at random moments of an hour's compaction that uses pieces, then a rerun: exact tables, every event once, readers see the hour's files or its compacted file",
  async t => {
    const { fixture, hour, url, db, pieces } = await fixtureWithPieces(t, 'ahead-compaction-kill', { replayEvery: 5 })
    const dir = hourDir(fixture.archiveDir, hour)
    const files = (await readdir(dir)).sort()
    const compacted = compactedFileName(hour)
    const expected = await expectedRows(await hourFiles(fixture.archiveDir, hour))
    t.is(expected.length, fixture.rows)
    const args = ['compact', '--hour', hourLabel(hour), '--archive-dir', fixture.archiveDir, '--database-url', url]
    // One run killed at each stage, a random moment after the run reached it: opening DuckDB and
    // reading the sidecars, copying the pieces, PostgreSQL, the switch, deleting the files and
    // the pieces. Each run resumes what the killed ones left.
    const killed = { before: 0, after: 0 }
    const reached: Record<string, number> = {}
    const lock = join(fixture.archiveDir, LOCK_FILE)
    for (const stage of STAGES) {
      const run = await killAfter(
        [BIN, ...args],
        Math.random() * 20,
        ({ pid }) => holdsLock(lock, pid) && stage.reached(fixture.archiveDir, hour)
      )
      if (!run.killed) {
        // The run finished before its moment came: it must have succeeded.
        t.is(run.code, 0, run.stderr)
        continue
      }
      reached[stage.name] = (reached[stage.name] ?? 0) + 1
      // A reader looking now sees the writer files as they were, or the compacted file alone, and
      // every event.
      const seen = (await readdir(dir)).sort()
      t.deepEqual(seen, seen.includes(compacted) ? [compacted] : files)
      const [counts] = await query(
        `SELECT count(DISTINCT (partition, "offset")) AS d FROM read_parquet(${sqlList(await hourFiles(fixture.archiveDir, hour))})`
      )
      t.is(Number(counts!.d), fixture.rows)
      if (seen.includes(compacted)) {
        killed.after++
      } else {
        killed.before++
        t.is(
          (await sidecars(fixture.archiveDir, hour)).length,
          pieces.length,
          'before its switch a compaction deletes no piece it can use'
        )
      }
    }
    t.log(
      `${killed.before} kills before the switch, ${killed.after} after, by stage reached ${JSON.stringify(reached)}; ${pieces.length} pieces`
    )
    t.true(killed.before > 0, 'a run was killed while the pieces stood for the files')
    const rerun = await cellstream(args)
    t.is(rerun.code, 0, rerun.stderr)

    await assertTruth(t, db, fixture)
    t.deepEqual(await readdir(dir), [compacted])
    t.deepEqual(await compactedRows(fixture.archiveDir, hour), expected)
    const [counts] = await query(
      `SELECT count(*) AS n, count(DISTINCT (partition, "offset")) AS d FROM read_parquet(${sqlString(join(dir, compacted))})`
    )
    t.deepEqual([Number(counts!.n), Number(counts!.d)], [fixture.rows, fixture.rows])
    t.deepEqual(await readdir(join(fixture.archiveDir, AHEAD_DIR)), [])
    t.deepEqual(
      (await readdir(join(fixture.archiveDir, VERSIONS_DIR))).filter(
        name => name.endsWith('.new') || name.endsWith('.tmp')
      ),
      []
    )
  }
)

// Writer-like files of one partition, `rows` each, offsets from 0, written by DuckDB.
async function writerFiles(
  archiveDir: string,
  hour: number,
  partition: number,
  files: number,
  rows: number
): Promise<void> {
  const dir = versionDir(archiveDir, hour, await ensureHourVersion(archiveDir, hour))
  const instance = await DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  try {
    for (let f = 0; f < files; f++) {
      const first = f * rows
      const path = join(dir, partFileName('devices', partition, BigInt(first), BigInt(first + rows - 1)))
      await connection.run(
        `COPY (${partRows(hour, partition, first, first + rows - 1)}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION snappy)`
      )
    }
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

/** A watcher looking every second, with 10 minutes of lateness, until `controller` aborts. */
function watching(
  archiveDir: string,
  databaseUrl: string,
  controller: AbortController
): Pick<WatchOptions, 'archiveDir' | 'databaseUrl' | 'latenessSeconds' | 'intervalSeconds' | 'signal'> {
  return { archiveDir, databaseUrl, latenessSeconds: 600, intervalSeconds: 1, signal: controller.signal }
}

/** Hashes every row with its position, so that two files agree only with the same rows in the same order. */
async function orderedHash(sql: string): Promise<{ n: number; h: string }> {
  const [r] = await query(
    `SELECT count(*) AS n, sum(hash(rn, bytes, "timestamp", app, id, antenna_id, email, quota, topic, partition, "offset"))::VARCHAR AS h FROM (${sql})`
  )
  return { n: Number(r!.n), h: String(r!.h) }
}

/** The hour's compacted file, hashed with the position of each row. */
async function compactedHash(archiveDir: string, hour: number): Promise<{ n: number; h: string }> {
  return orderedHash(
    `SELECT *, file_row_number AS rn FROM read_parquet(${sqlString(join(hourDir(archiveDir, hour), compactedFileName(hour)))}, file_row_number = true)`
  )
}

type BytesTotal = { type: string; id: string; value: number }

/**
 * What compacting writer files (made up, without duplicates) must give, from the files alone: the
 * hash of their rows in compacted order, and their bytes_hourly totals.
 */
async function expectedFromFiles(
  raw: readonly string[]
): Promise<{ hash: { n: number; h: string }; bytes: BytesTotal[] }> {
  const hash = await orderedHash(
    `SELECT *, row_number() OVER (ORDER BY topic, partition, "offset") - 1 AS rn FROM read_parquet(${sqlList(raw)})`
  )
  const totals = await query(`SELECT type, id, value FROM (
      SELECT 'antenna_total_bytes' AS type, antenna_id AS id, sum(bytes)::BIGINT AS value FROM read_parquet(${sqlList(raw)}) GROUP BY ALL
      UNION ALL SELECT 'user_total_bytes', id, sum(bytes)::BIGINT FROM read_parquet(${sqlList(raw)}) GROUP BY ALL
      UNION ALL SELECT 'app_total_bytes', app, sum(bytes)::BIGINT FROM read_parquet(${sqlList(raw)}) GROUP BY ALL)
    ORDER BY type, id`)
  return { hash, bytes: totals.map(r => ({ type: String(r.type), id: String(r.id), value: Number(r.value) })) }
}

async function bytesHourly(db: Db): Promise<BytesTotal[]> {
  return db.any<BytesTotal>('SELECT type, id, value FROM bytes_hourly ORDER BY type, id')
}

test("the watcher compacts an open hour ahead without readers noticing, and the hour's compaction copies the pieces as they are", async t => {
  const archiveDir = join(await tempDir(t), 'archive')
  const hour = EVENING
  // Partition 0 gets more than a piece's rows while the hour is open; partition 1 only once it has closed.
  await writerFiles(archiveDir, hour, 0, 330, 1667)
  await writerFiles(archiveDir, hour, 1, 100, 1667)
  const { url, db } = await testDatabase(t)
  const plain = await copyArchive(t, archiveDir)
  const raw = await hourFiles(archiveDir, hour)
  const expected = await expectedFromFiles(raw)

  const watch = async (
    now: number,
    stop: 'ahead' | 'hour'
  ): Promise<{ ahead: AheadHourResult[]; hours: HourResult[] }> => {
    const controller = new AbortController()
    const seen = { ahead: [] as AheadHourResult[], hours: [] as HourResult[] }
    await watchArchive({
      ...watching(archiveDir, url, controller),
      now: () => now,
      onAhead: outcome => {
        if (!outcome.ok) throw outcome.error
        seen.ahead.push(outcome.result)
        if (stop === 'ahead') controller.abort()
      },
      onHour: outcome => {
        if (!outcome.ok) throw outcome.error
        seen.hours.push(outcome.result)
        if (stop === 'hour') controller.abort()
      }
    })
    return seen
  }

  const names = (await readdir(hourDir(archiveDir, hour))).sort()
  const open = await watch(hour + 1800, 'ahead')
  t.is(open.hours.length, 0)
  t.is(open.ahead[0]!.piecesWritten, 1, 'partition 0 has enough rows for a piece, partition 1 not yet')
  t.deepEqual((await readdir(hourDir(archiveDir, hour))).sort(), names, 'the hour shows the same files')
  t.deepEqual(await dueHours(archiveDir, hour + 1800 - 600), [])
  const closed = await watch(hour + HOUR_SECONDS + 60, 'ahead')
  t.is(closed.hours.length, 0, 'not due within the lateness')
  t.true(closed.ahead[0]!.piecesWritten >= 1, "the closed hour's partition 1 becomes a piece")

  const due = await watch(hour + HOUR_SECONDS + 601, 'hour')
  const result = due.hours[0]!
  t.is(result.status, 'compacted')
  t.is(result.piecesUsed, closed.ahead[0]!.pieces)
  t.is(result.filesCopied, result.piecesUsed, 'every piece is copied as it is')
  t.is(result.filesMerged, raw.length)
  t.deepEqual(await readdir(hourDir(archiveDir, hour)), [compactedFileName(hour)])
  t.deepEqual(await readdir(join(archiveDir, AHEAD_DIR)), [])
  t.deepEqual(await compactedHash(archiveDir, hour), expected.hash)
  t.deepEqual(await bytesHourly(db), expected.bytes)

  // The same hour compacted without pieces: the same rows in the same order.
  const { url: plainUrl } = await testDatabase(t)
  const reference = await compactOne(plain, plainUrl, hour)
  t.is(reference.piecesUsed, 0)
  t.deepEqual(await compactedHash(plain, hour), expected.hash)
})

test('the watcher waits while another compactor holds the archive, instead of stopping', async t => {
  const archiveDir = join(await tempDir(t), 'archive')
  const hour = EVENING
  await writerFiles(archiveDir, hour, 0, 2, 100)
  // The other compactor: a live process whose pid is in the lock.
  const other = spawn('sleep', ['60'], { stdio: 'ignore' })
  t.teardown(() => {
    other.kill('SIGKILL')
  })
  await writeFile(join(archiveDir, LOCK_FILE), String(other.pid))
  const { url } = await testDatabase(t)
  const controller = new AbortController()
  let skipped = 0
  // Each round is reported skipped; the watcher goes on to the next until three were.
  await watchArchive({
    ...watching(archiveDir, url, controller),
    now: () => hour + 1800,
    onAhead: outcome => {
      t.true(!outcome.ok && outcome.hour === undefined && outcome.locked, 'no round while the archive is locked')
      if (++skipped === 3) controller.abort()
    }
  })
  t.is(skipped, 3)
  t.is(await readFile(join(archiveDir, LOCK_FILE), 'utf8'), String(other.pid))
  t.deepEqual(await readdir(archiveDir).then(names => names.filter(name => name === AHEAD_DIR)), [])
})

test('a round ahead that fails on something else than data is reported and skipped: the watcher goes on and compacts the due hour exactly', async t => {
  const archiveDir = join(await tempDir(t), 'archive')
  const hour = EVENING
  const next = hour + HOUR_SECONDS
  await writerFiles(archiveDir, hour, 0, 3, 1000)
  await writerFiles(archiveDir, hour, 1, 2, 1000)
  await writerFiles(archiveDir, next, 0, 2, 100)
  // The next hour's pieces folder cannot be made (a file stands in its place; permissions would
  // not stop a test run as root): every round ahead stops there on ENOTDIR, as on a full disk.
  await mkdir(join(archiveDir, AHEAD_DIR))
  await writeFile(aheadDir(archiveDir, next), 'not a folder')
  const nextFiles = (await readdir(hourDir(archiveDir, next))).sort()
  const expected = await expectedFromFiles(await hourFiles(archiveDir, hour))
  const { url, db } = await testDatabase(t)
  const controller = new AbortController()

  // First the hour has closed but is not due: a round ahead of both hours, which fails. Then
  // the hour is due: it is compacted, and the round ahead of the next one fails again.
  let time = next + 60
  const failures: string[] = []
  const hours: HourResult[] = []
  await watchArchive({
    ...watching(archiveDir, url, controller),
    now: () => time,
    onHour: outcome => {
      if (!outcome.ok) throw outcome.error
      hours.push(outcome.result)
    },
    onAhead: outcome => {
      t.true(!outcome.ok && outcome.hour === undefined && !outcome.locked, 'the round fails as a whole')
      if (!outcome.ok) failures.push(outcome.error.message)
      time = next + 601
      if (failures.length === 2 || outcome.ok) controller.abort()
    }
  })
  t.is(failures.length, 2)
  for (const message of failures) t.regex(message, /^compacting ahead failed, tried again in 1 s: ENOTDIR/)
  t.deepEqual(
    hours.map(r => [r.hour, r.status, r.filesMerged, r.rowsWritten]),
    [[hour, 'compacted', 5, 5000]]
  )
  t.deepEqual(await compactedHash(archiveDir, hour), expected.hash)
  t.deepEqual(await bytesHourly(db), expected.bytes)
  t.deepEqual((await readdir(hourDir(archiveDir, next))).sort(), nextFiles, 'the next hour is as it was')
})
