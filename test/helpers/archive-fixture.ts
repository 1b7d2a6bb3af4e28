// Builds archives the way the speed layer will: simulated records spread round-robin over
// partitions (like null keys), each valid event turned into an archive row with its user's
// metadata and Kafka coordinates, written by ParquetArchive in commits. Optionally replays
// commits as a crashed instance would, so the archive holds duplicates. Expectations come from
// the ground truth of the same record file, never from the compactor.
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { makeUsers } from '../../src/simulator/population.ts'
import { readRecordFile } from '../../src/simulator/record-file.ts'
import { ArchiveBatch, type ArchiveRow } from '../../src/archive/batch.ts'
import { ParquetArchive } from '../../src/archive/parquet-archive.ts'
import { type TrafficOptions } from '../../src/simulator/traffic.ts'
import { truthFromFile } from '../../src/truth/from-file.ts'
import { type TruthResult } from '../../src/truth/ground-truth.ts'
import { validateEvent } from '../../src/truth/validate.ts'
import { simulateToFile } from './simulate-file.ts'
import { tempDir } from './temp-dir.ts'

export const NOW = Date.parse('2026-11-28T00:00:00Z') / 1000

export interface ArchiveFixture {
  archiveDir: string
  records: string
  truth: TruthResult
  rows: number
  users: number
}

export interface FixtureOptions {
  traffic: TrafficOptions
  from: number
  to: number
  partitions?: number
  /** Records per partition per commit. */
  commit?: number
  /** Every how many commits an instance "crashes" and rewrites its last commit with more records. */
  replayEvery?: number
  /** Epoch seconds the records count as sent at (the future rule); NOW unless told. */
  now?: number
  /** An archive to add to instead of a fresh one. */
  archiveDir?: string
}

export async function archiveFromSimulation(t: ExecutionContext, options: FixtureOptions): Promise<ArchiveFixture> {
  const { path } = await simulateToFile(t, options.traffic, { from: options.from, to: options.to })
  const archiveDir = options.archiveDir ?? join(await tempDir(t), 'archive')
  const now = options.now ?? NOW
  const partitions = options.partitions ?? 3
  const users = options.traffic.users ?? 20
  const metadata = new Map(makeUsers(users).map(u => [u.id, u]))
  const offsets = new Array<number>(partitions).fill(0)
  const pending: ArchiveRow[][] = Array.from({ length: partitions }, () => [])
  const previous: ArchiveRow[][] = Array.from({ length: partitions }, () => [])
  const writers = Array.from({ length: partitions }, () => new ParquetArchive(archiveDir))
  const commit = options.commit ?? 500
  let commits = 0
  let rows = 0
  let n = 0
  const flush = async (p: number): Promise<void> => {
    commits++
    const replay = options.replayEvery !== undefined && commits % options.replayEvery === 0 && previous[p]!.length > 0
    // A crashed instance replays from its last commit: the same records again, plus newer ones.
    await writers[p]!.write(ArchiveBatch.of(replay ? [...previous[p]!, ...pending[p]!] : pending[p]!))
    previous[p] = pending[p]!
    pending[p] = []
  }
  for await (const payload of readRecordFile(path)) {
    const p = n++ % partitions
    const offset = offsets[p]!++
    const validation = validateEvent(payload, { recordSeconds: now })
    if (!validation.ok) continue
    const event = validation.event
    const user = metadata.get(event.id)
    pending[p]!.push({
      ...event,
      email: user?.email ?? null,
      quota: user?.quota ?? null,
      topic: 'devices',
      partition: p,
      offset
    })
    rows++
    if (pending[p]!.length >= commit) await flush(p)
  }
  for (let p = 0; p < partitions; p++) if (pending[p]!.length > 0) await flush(p)
  await Promise.all(writers.map(w => w.close()))
  const truth = await truthFromFile(path, { users: makeUsers(users), partitions, recordSeconds: now })
  return { archiveDir, records: path, truth, rows, users }
}
