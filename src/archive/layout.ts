// The one place that knows how the raw archive is laid out on disk (docs/archive.md):
//
//   ARCHIVE_DIR/year=YYYY/month=MM/day=DD/hour=HH -> ../../../.hours/YYYY-MM-DDTHH.N
//   ARCHIVE_DIR/.hours/YYYY-MM-DDTHH.N/part-<topic>-<partition>-<first>-<last>.parquet
//
// Every hour folder is a symbolic link to one version of the hour. Writers add files to the
// current version; the compactor builds the next version beside it and swaps the link with a
// single rename, so a reader sees either the old files or the compacted one. Hours are UTC
// hours of event time. Names starting with a dot and names ending in `.tmp` are never data:
// globs for `*.parquet` skip them, and so do Spark and Trino.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

export const HOUR_SECONDS = 3600
export const VERSIONS_DIR = '.hours'
export const PARQUET_SUFFIX = '.parquet'
export const TEMP_SUFFIX = '.tmp'

/** The archive row, in column order; the same order is used in every file. */
export const ARCHIVE_COLUMNS = [
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
] as const

/** `CREATE TABLE` column list for the archive row. */
export const ARCHIVE_TABLE_COLUMNS = ARCHIVE_COLUMNS.map(([name, type]) => `"${name}" ${type}`).join(', ')

export function hourStart(seconds: number): number {
  // Exact for whole seconds below 2^53, and cheaper than `%`, which V8 makes a call to fmod
  // beyond 31 bits: the archive asks this for every event (see TimeWindows.startOf).
  return Math.floor(seconds / HOUR_SECONDS) * HOUR_SECONDS
}

interface HourParts {
  year: string
  month: string
  day: string
  hour: string
}

function hourParts(hour: number): HourParts {
  const iso = new Date(hour * 1000).toISOString()
  return { year: iso.slice(0, 4), month: iso.slice(5, 7), day: iso.slice(8, 10), hour: iso.slice(11, 13) }
}

/** `2021-02-19T21`: how an hour is named in versions, file names and messages. */
export function hourLabel(hour: number): string {
  const p = hourParts(hour)
  return `${p.year}-${p.month}-${p.day}T${p.hour}`
}

/** The day folder that holds the hour's link. */
export function dayDir(archiveDir: string, hour: number): string {
  const p = hourParts(hour)
  return join(archiveDir, `year=${p.year}`, `month=${p.month}`, `day=${p.day}`)
}

/** The hour folder readers see (a link to the current version). */
export function hourDir(archiveDir: string, hour: number): string {
  return join(dayDir(archiveDir, hour), `hour=${hourParts(hour).hour}`)
}

const HOUR_PATH = /year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/hour=(\d{2})\/?$/

/** The UTC hour start of an hour folder path, or undefined if the path is not one. */
export function parseHourDir(path: string): number | undefined {
  const match = HOUR_PATH.exec(path.replaceAll('\\', '/'))
  if (match === null) return undefined
  const [, year, month, day, hour] = match
  const ms = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour))
  const seconds = ms / 1000
  // Date.UTC rolls over out-of-range fields; a folder like month=13 is not an hour.
  return hourDir('', seconds).endsWith(`year=${year}/month=${month}/day=${day}/hour=${hour}`) ? seconds : undefined
}

export function versionsDir(archiveDir: string): string {
  return join(archiveDir, VERSIONS_DIR)
}

export function versionName(hour: number, version: number): string {
  return `${hourLabel(hour)}.${version}`
}

export function versionDir(archiveDir: string, hour: number, version: number): string {
  return join(versionsDir(archiveDir), versionName(hour, version))
}

/** A version being built: never linked, deleted by the next run if it is left behind. */
export function buildingDir(archiveDir: string, hour: number, version: number): string {
  return `${versionDir(archiveDir, hour, version)}.new`
}

/** Where the compactor records which files a version replaced, beside the version. */
export function manifestPath(archiveDir: string, hour: number, version: number): string {
  return `${versionDir(archiveDir, hour, version)}.inputs.json`
}

/** The link text of an hour folder pointing to a version (relative: the archive can move). */
export function linkTarget(hour: number, version: number): string {
  return join('..', '..', '..', VERSIONS_DIR, versionName(hour, version))
}

export interface VersionEntry {
  hour: number
  version: number
  kind: 'version' | 'building' | 'manifest'
}

const VERSION_ENTRY = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})\.(\d+)(\.new|\.inputs\.json)?$/

/** Reads an entry of the versions folder; undefined for anything else. */
export function parseVersionEntry(name: string): VersionEntry | undefined {
  const match = VERSION_ENTRY.exec(name)
  if (match === null) return undefined
  const [, year, month, day, hour, version, suffix] = match
  return {
    hour: Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour)) / 1000,
    version: Number(version),
    kind: suffix === '.new' ? 'building' : suffix === undefined ? 'version' : 'manifest'
  }
}

/** The version a link text points to, or undefined if it is not a version link. */
export function parseLinkTarget(target: string): number | undefined {
  const name = target.replaceAll('\\', '/').split('/').pop() ?? ''
  const entry = parseVersionEntry(name)
  return entry?.kind === 'version' ? entry.version : undefined
}

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/

/**
 * A writer's file: one topic partition, its records' first and last offsets. The same records
 * always get the same name, so a rewrite after a crash replaces the file instead of adding one.
 */
export function partFileName(topic: string, partition: number, firstOffset: bigint, lastOffset: bigint): string {
  if (!TOPIC.test(topic)) throw new Error(`not a Kafka topic name: '${topic}'`)
  return `part-${topic}-${partition}-${firstOffset}-${lastOffset}${PARQUET_SUFFIX}`
}

export interface PartFile {
  topic: string
  partition: number
  firstOffset: bigint
  lastOffset: bigint
}

const PART_FILE = /^part-([a-zA-Z0-9._-]+)-(\d+)-(\d+)-(\d+)\.parquet$/

export function parsePartFileName(name: string): PartFile | undefined {
  const match = PART_FILE.exec(name)
  if (match === null) return undefined
  return {
    topic: match[1]!,
    partition: Number(match[2]),
    firstOffset: BigInt(match[3]!),
    lastOffset: BigInt(match[4]!)
  }
}

/** The compactor's one file for an hour. */
export function compactedFileName(hour: number): string {
  return `compacted-${hourLabel(hour)}${PARQUET_SUFFIX}`
}

/** A hidden, unique name beside `finalName` to write to before the rename that publishes it. */
export function tempName(finalName: string): string {
  return `.${finalName}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`
}

export function isTempName(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX)
}

/** A published data file: what readers count. */
export function isDataFile(name: string): boolean {
  return name.endsWith(PARQUET_SUFFIX) && !name.startsWith('.') && !name.startsWith('_')
}
