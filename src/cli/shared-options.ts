// Options that several commands share, each with its env var and default.
import { Option, type Command } from 'commander'
import { parseArchiveUrl, type ArchiveLocation } from '../archive/archive-url.ts'
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BROKERS } from '../lib/config.ts'
import { DEFAULT_HTTP_HOST } from '../web/server.ts'
import { logger } from './logger.ts'

export const brokersOption = (): Option =>
  new Option('--brokers <host:port,...>', 'Kafka bootstrap brokers').env('KAFKA_BROKERS').default(DEFAULT_KAFKA_BROKERS)

export const databaseUrlOption = (): Option =>
  new Option('--database-url <url>', 'PostgreSQL connection URL').env('DATABASE_URL').default(DEFAULT_DATABASE_URL)

/** The stream processor's consumer group: `stream` and `reset` name the same one. */
export const groupOption = (): Option =>
  new Option('--group <id>', 'consumer group of the stream processor, and prefix of its internal topics')
    .env('CELLSTREAM_GROUP')
    .default('cellstream')

export const stateDirOption = (): Option =>
  new Option('--state-dir <dir>', 'local state of the stream instance on this machine; one per instance')
    .env('CELLSTREAM_STATE_DIR')
    .default('./data/state')

/** `reset` takes the state folders of every instance on the machine. */
export const stateDirsOption = (): Option =>
  new Option('--state-dir <dir...>', 'local state folders of the stream instances on this machine (one or more)')
    .env('CELLSTREAM_STATE_DIR')
    .default(['./data/state'], './data/state')

export const archiveDirOption = (): Option =>
  new Option('--archive-dir <dir>', 'root of the Parquet archive of every valid event (year=/month=/day=/hour=)')
    .env('CELLSTREAM_ARCHIVE_DIR')
    .default('./data/archive')

export const archiveUrlOption = (): Option =>
  new Option(
    '--archive-url <url>',
    'the Parquet archive: a local folder, or s3://bucket/prefix on an S3-compatible store (endpoint, region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE); overrides --archive-dir'
  ).env('ARCHIVE_URL')

/**
 * The archive a command works on: `--archive-url` (or ARCHIVE_URL) if given, else
 * `--archive-dir`. A flag beats a variable: `--archive-dir` on the command line wins over
 * ARCHIVE_URL from the environment.
 */
export function archiveLocation(flags: { archiveUrl?: string; archiveDir: string }, command: Command): ArchiveLocation {
  const url = flags.archiveUrl
  // An empty variable is an unset one: compose files pass ARCHIVE_URL through as `${ARCHIVE_URL:-}`.
  if (url === undefined || (url.trim() === '' && command.getOptionValueSource('archiveUrl') === 'env'))
    return { kind: 'local', dir: flags.archiveDir }
  if (command.getOptionValueSource('archiveDir') === 'cli' && command.getOptionValueSource('archiveUrl') === 'env')
    return { kind: 'local', dir: flags.archiveDir }
  return parseArchiveUrl(url)
}

/** `defaultPort` null: no HTTP server unless a port is given (by flag or variable). */
export const httpPortOption = (description: string, defaultPort: string | null = '0'): Option => {
  const option = new Option('--http-port <port>', description).env('CELLSTREAM_HTTP_PORT')
  return defaultPort === null ? option : option.default(defaultPort)
}

export const httpHostOption = (): Option =>
  new Option('--http-host <address>', 'address the HTTP server listens on (0.0.0.0: every interface)')
    .env('CELLSTREAM_HTTP_HOST')
    .default(DEFAULT_HTTP_HOST)

export const kafkaDataDirOption = (): Option =>
  new Option('--data-dir <dir>', 'folder for the local Kafka cluster').default('./data/kafka')

/** A line of the command's log (stderr, see logger.ts), so that stdout stays clean for results. */
export const progress = (line: string): void => {
  logger().info(line)
}
