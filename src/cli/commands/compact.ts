import { Command } from 'commander'
import { S3Archive } from '../../archive/s3-archive.ts'
import { HOUR_SECONDS, hourLabel, hourStart } from '../../archive/layout.ts'
import { type AheadHourResult } from '../../compactor/ahead.ts'
import { type HourResult } from '../../compactor/compact-hour.ts'
import { compactHours, type HourOutcome } from '../../compactor/run.ts'
import { s3WorkDir } from '../../compactor/s3-compact.ts'
import { watchArchive, type AheadReport } from '../../compactor/watch.ts'
import { DataError, UsageError } from '../../lib/errors.ts'
import { parseInteger, parseDatabaseUrl } from '../../lib/options.ts'
import { parseUtcSeconds } from '../../simulator/time.ts'
import { archiveDirOption, archiveLocation, archiveUrlOption, databaseUrlOption, progress } from '../shared-options.ts'
import { logger } from '../logger.ts'

interface CompactFlags {
  hour?: string
  from?: string
  to?: string
  watch?: boolean
  archiveDir: string
  archiveUrl?: string
  databaseUrl: string
  lateness: string
  interval: string
}

export function compactCommand(): Command {
  return new Command('compact')
    .description(
      'batch layer: merge each UTC hour of the archive into one deduplicated Parquet file and write bytes_hourly and user_quota_limit'
    )
    .option('--hour <hour>', 'one UTC hour, e.g. 2021-02-19T21')
    .option('--from <time>', 'first hour of a range, ISO 8601 UTC')
    .option('--to <time>', 'end of the range (exclusive), ISO 8601 UTC')
    .option(
      '--watch',
      'keep running: compact every hour once it has closed, and again when late files arrive; compact the hours not yet due ahead'
    )
    .addOption(archiveDirOption())
    .addOption(archiveUrlOption())
    .addOption(databaseUrlOption())
    .option('--lateness <seconds>', 'with --watch: seconds after an hour ends before it is compacted', '600')
    .option('--interval <seconds>', 'with --watch: seconds between looks at the archive', '30')
    .action(async (flags: CompactFlags, command: Command) => {
      const location = archiveLocation(flags, command)
      if (location.kind === 'local') {
        await runCompact({ ...flags, archiveDir: location.dir }, undefined)
        return
      }
      const s3 = new S3Archive(location)
      try {
        const workDir = s3WorkDir(location.url)
        await runCompact({ ...flags, archiveDir: workDir }, s3)
      } finally {
        s3.close()
      }
    })
}

async function runCompact(flags: CompactFlags, s3: S3Archive | undefined): Promise<void> {
  parseDatabaseUrl(flags.databaseUrl)
  const modes = [
    flags.hour !== undefined,
    flags.from !== undefined || flags.to !== undefined,
    flags.watch === true
  ].filter(Boolean).length
  if (modes !== 1) throw new UsageError('give exactly one of --hour, --from/--to or --watch')
  if (flags.watch === true) {
    await watch(flags, s3)
    return
  }
  const hours = flags.hour !== undefined ? [parseHour('--hour', flags.hour)] : hourRange(flags)
  const live = process.stderr.isTTY && hours.length > 1
  const started = performance.now()
  const outcomes = await compactHours({
    archiveDir: flags.archiveDir,
    s3,
    databaseUrl: flags.databaseUrl,
    hours,
    onHour: (outcome, index, total) => {
      if (live) process.stderr.write('\r\u001b[K')
      report(outcome)
      if (live && index + 1 < total)
        process.stderr.write(`hour ${index + 2} of ${total} (${hourLabel(hours[index + 1]!)})…`)
    }
  })
  const failed = outcomes.filter(o => !o.ok)
  if (hours.length > 1) process.stdout.write(totalLine(outcomes, (performance.now() - started) / 1000))
  if (failed.length === 1 && hours.length === 1) throw failed[0]!.error
  if (failed.length > 0)
    throw new DataError(`${failed.length} of ${hours.length} hours failed and were left as they were (see above)`)
}

async function watch(flags: CompactFlags, s3: S3Archive | undefined): Promise<void> {
  const latenessSeconds = parseInteger('--lateness', flags.lateness, { min: 0, max: 30 * 86_400 })
  const intervalSeconds = parseInteger('--interval', flags.interval, { min: 1, max: 86_400 })
  const controller = new AbortController()
  const stop = (): void => {
    controller.abort()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  progress(
    `watching ${s3?.url ?? flags.archiveDir}: compacting hours ${latenessSeconds} s after they end, every ${intervalSeconds} s`
  )
  try {
    await watchArchive({
      archiveDir: flags.archiveDir,
      s3,
      databaseUrl: flags.databaseUrl,
      latenessSeconds,
      intervalSeconds,
      signal: controller.signal,
      onHour: report,
      onAhead: reportAhead
    })
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

function report(outcome: HourOutcome): void {
  if (outcome.ok) process.stdout.write(hourLine(outcome.result))
  else logger().error(outcome.error.message)
}

// Rounds that wrote nothing stay quiet: the watcher runs one every interval. So do rounds
// skipped while another compactor (`compact --hour`, say) holds the archive: that is expected.
function reportAhead(outcome: AheadReport): void {
  if (outcome.ok) {
    if (outcome.result.piecesWritten > 0) progress(aheadLine(outcome.result))
  } else if (outcome.hour !== undefined || !outcome.locked) {
    logger().error(outcome.error.message)
  }
}

function aheadLine(r: AheadHourResult): string {
  return (
    `${hourLabel(r.hour)}: compacted ahead ${count(r.filesEncoded)} files into ${count(r.piecesWritten)} pieces (${count(r.rowsEncoded)} rows) in ${r.seconds.toFixed(2)} s; ` +
    `${count(r.pieces)} pieces so far, ${count(r.filesLeft)} files not in one`
  )
}

export function hourLine(r: HourResult): string {
  const label = hourLabel(r.hour)
  const time = `${r.seconds.toFixed(2)} s`
  switch (r.status) {
    case 'empty':
      return `${label}: no data, nothing written\n`
    case 'unchanged':
      return `${label}: already one compacted file; ${count(r.rowsWritten)} rows aggregated into the tables in ${time}\n`
    case 'compacted': {
      const ahead = r.piecesUsed > 0 ? ` (${count(r.piecesUsed)} pieces compacted ahead)` : ''
      return `${label}: ${count(r.rowsRead)} rows read, ${count(r.duplicates)} duplicates dropped, ${count(r.filesMerged)} files merged${ahead}, ${count(r.rowsWritten)} rows written in ${time}\n`
    }
  }
}

function totalLine(outcomes: readonly HourOutcome[], seconds: number): string {
  const done = outcomes.filter(o => o.ok).map(o => o.result)
  const sum = (key: 'rowsRead' | 'duplicates' | 'filesMerged' | 'rowsWritten'): string =>
    count(done.reduce((s, r) => s + r[key], 0))
  const empty = done.filter(r => r.status === 'empty').length
  return `${outcomes.length} hours (${empty} without data, ${outcomes.length - done.length} failed): ${sum('rowsRead')} rows read, ${sum('duplicates')} duplicates dropped, ${sum('filesMerged')} files merged, ${sum('rowsWritten')} rows written in ${seconds.toFixed(2)} s\n`
}

function count(n: number): string {
  return n.toLocaleString('en-US')
}

const HOUR_ONLY = /^(\d{4}-\d{2}-\d{2})T(\d{2})$/

/** `2021-02-19T21`, or any ISO time that is the start of an hour. */
export function parseHour(name: string, raw: string): number {
  const seconds = parseTime(name, raw)
  if (hourStart(seconds) !== seconds)
    throw new UsageError(`${name} must be the start of an hour such as 2021-02-19T21, got '${raw}'`)
  return seconds
}

function parseTime(name: string, raw: string): number {
  const match = HOUR_ONLY.exec(raw.trim())
  return parseUtcSeconds(name, match === null ? raw : `${match[1]}T${match[2]}:00Z`)
}

function hourRange(flags: CompactFlags): number[] {
  if (flags.from === undefined || flags.to === undefined) throw new UsageError('--from and --to go together')
  const from = hourStart(parseTime('--from', flags.from))
  const to = parseTime('--to', flags.to)
  if (to <= from) throw new UsageError('--to must be after --from')
  if ((to - from) / HOUR_SECONDS > 24 * 366 * 10) throw new UsageError('--from/--to spans more than ten years of hours')
  const hours: number[] = []
  for (let hour = from; hour < to; hour += HOUR_SECONDS) hours.push(hour)
  return hours
}
