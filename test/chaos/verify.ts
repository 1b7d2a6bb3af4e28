// The end of every scenario: wait until the speed layer's tables reach the ground truth (or
// a deadline), stop the instances, compact the archive, and compare `bytes`, `bytes_hourly`,
// `user_quota_limit`, `quota_alerts` and the compacted archive with the truth, row by row.
import { join } from 'node:path'
import { sleep } from '../../src/lib/processes.ts'
import { cellstream } from '../helpers/cli.ts'
import { queryArchive } from '../helpers/read-archive.ts'
import { tableLines } from '../helpers/stream.ts'
import type { Fleet } from './fleet.ts'
import { rigEnv, type Truth } from './input.ts'
import type { Journal, Rig } from './rig.ts'

interface Row {
  timestamp: string
  id?: string
  type?: string
  value?: number
  email?: string
  usage?: number
  quota?: number
}
const bytesLine = (r: Row): string => `${r.timestamp} ${r.type} ${r.id} ${r.value}`
const quotaLine = (r: Row): string => `${r.timestamp} ${r.email} ${r.usage} ${r.quota}`

/** One table's differences: expected rows missing or wrong, and rows that should not be there. */
export interface Difference {
  table: string
  missing: string[]
  unexpected: string[]
}

export function diff(table: string, actual: string[], expected: string[]): Difference | undefined {
  const want = new Set(expected)
  const got = new Set(actual)
  const missing = expected.filter(line => !got.has(line))
  const unexpected = actual.filter(line => !want.has(line))
  // A row twice is a difference too, although the keys of the tables should forbid it.
  if (actual.length !== got.size) unexpected.push(`${actual.length - got.size} duplicate rows`)
  return missing.length + unexpected.length === 0 ? undefined : { table, missing, unexpected }
}

/**
 * Waits until `bytes` and `quota_alerts` equal the truth (the speed layer caught up); false
 * when neither table changed for `stallMs`: progress, however slow on a busy machine, is no stall.
 */
export async function awaitSpeedLayer(rig: Rig, truth: Truth, stallMs: number): Promise<boolean> {
  const bytes = truth.bytes.map(bytesLine).sort().join('\n')
  const alerts = truth.quota_alerts.map(quotaLine).sort().join('\n')
  let deadline = Date.now() + stallMs
  let last = ''
  for (;;) {
    const got = (await tableLines(rig.db, 'bytes').catch(() => [])).join('\n')
    const gotAlerts = (await tableLines(rig.db, 'quota_alerts').catch(() => [])).join('\n')
    if (got === bytes && gotAlerts === alerts) return true
    if (got + gotAlerts !== last) {
      last = got + gotAlerts
      deadline = Date.now() + stallMs
    }
    if (Date.now() > deadline) return false
    await sleep(1000)
  }
}

/** Stops the fleet, compacts every hour of the input, and returns every difference from the truth. */
export async function verify(rig: Rig, fleet: Fleet, truth: Truth, journal: Journal): Promise<Difference[]> {
  const caughtUp = await awaitSpeedLayer(rig, truth, 300_000)
  // A stall is a failure even when the tables are right after the instances stopped.
  const stalled = caughtUp
    ? []
    : [{ table: 'speed layer', missing: ['no progress for 300 s before catching up'], unexpected: [] }]
  const codes = await fleet.stopAll()
  if (codes.some(code => code !== 0)) journal.note(`instances exited with ${codes.join(', ')} on SIGTERM`)
  const hours = truth.bytes_hourly.map(r => Date.parse(r.timestamp)).sort((a, b) => a - b)
  const differences: Difference[] = [...stalled]
  if (hours.length > 0) {
    const compact = await cellstream(
      [
        'compact',
        '--from',
        new Date(hours[0]!).toISOString().slice(0, 13),
        '--to',
        new Date(hours.at(-1)! + 3_600_000).toISOString().slice(0, 13),
        '--archive-dir',
        join(rig.dir, 'archive')
      ],
      rigEnv(rig),
      { timeoutMs: 1_800_000 }
    )
    if (compact.code !== 0) differences.push({ table: 'compact', missing: [compact.stderr.trim()], unexpected: [] })
  }
  const pairs: Array<[string, string[], string[]]> = [
    ['bytes', await tableLines(rig.db, 'bytes'), truth.bytes.map(bytesLine)],
    ['bytes_hourly', await tableLines(rig.db, 'bytes_hourly'), truth.bytes_hourly.map(bytesLine)],
    ['user_quota_limit', await tableLines(rig.db, 'user_quota_limit'), truth.user_quota_limit.map(quotaLine)],
    ['quota_alerts', await tableLines(rig.db, 'quota_alerts'), truth.quota_alerts.map(quotaLine)],
    ['archive', await archiveLines(join(rig.dir, 'archive')), archiveTruth(truth)]
  ]
  for (const [table, actual, expected] of pairs) {
    const found = diff(table, actual.sort(), expected.sort())
    if (found !== undefined) differences.push(found)
  }
  return differences
}

/**
 * The compacted archive, summed the way an outside reader would with DuckDB (not through the
 * compactor's tables): events and bytes per hour and antenna, and the count of distinct
 * Kafka coordinates, which equals the number of rows when compaction left no duplicate.
 */
async function archiveLines(archiveDir: string): Promise<string[]> {
  const totals = await queryArchive(
    archiveDir,
    source => `SELECT strftime(make_timestamp(("timestamp" // 3600) * 3600 * 1000000), '%Y-%m-%dT%H:%M:%SZ') AS hour,
      antenna_id, sum(bytes)::BIGINT AS bytes FROM ${source} GROUP BY ALL`
  )
  const [counts] = await queryArchive(
    archiveDir,
    source =>
      `SELECT count(*) AS events, count(DISTINCT ("topic", "partition", "offset")) AS distinct_events FROM ${source}`
  )
  return [
    ...totals.map(r => `${String(r.hour)} antenna_total_bytes ${String(r.antenna_id)} ${String(r.bytes)}`),
    `events ${String(counts?.events ?? 0)}`,
    `distinct events ${String(counts?.distinct_events ?? 0)}`
  ]
}

/** What the archive must hold: every valid event once, late ones included. */
function archiveTruth(truth: Truth): string[] {
  return [
    ...truth.bytes_hourly.filter(r => r.type === 'antenna_total_bytes').map(bytesLine),
    `events ${truth.summary.valid}`,
    `distinct events ${truth.summary.valid}`
  ]
}

/** Prints the differences, a few rows of each. */
export function describe(differences: Difference[]): string[] {
  return differences.map(d => {
    const sample = (rows: string[]): string => rows.slice(0, 5).join('; ') + (rows.length > 5 ? '; …' : '')
    return `${d.table}: ${d.missing.length} expected rows missing or different (${sample(d.missing)}), ${d.unexpected.length} unexpected (${sample(d.unexpected)})`
  })
}
