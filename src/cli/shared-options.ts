// Options that several commands share, each with its env var and default.
import { Option, type Command } from 'commander'
import { parseArchiveUrl, type ArchiveLocation } from '../archive/archive-url.ts'
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BROKERS } from '../lib/config.ts'
import { DEFAULT_HTTP_HOST } from '../web/server.ts'
import { SASL_MECHANISMS, type KafkaSecuritySettings } from '../kafka/security.ts'
import { logger } from './logger.ts'

export const brokersOption = (): Option =>
  new Option('--brokers <host:port,...>', 'Kafka bootstrap brokers').env('KAFKA_BROKERS').default(DEFAULT_KAFKA_BROKERS)

/** main.ts adds this to every command that takes --database-url. */
export const databasePasswordFileOption = (): Option =>
  new Option(
    '--database-password-file <file>',
    "file holding the password of the database URL's user (a mounted secret), for a URL without one"
  ).env('DATABASE_PASSWORD_FILE')

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

/**
 * How every command that takes `--brokers` authenticates to Kafka and encrypts (main.ts adds
 * these to each of them). Passwords are best given by variable or file: a flag's value is
 * visible to every user of the machine, and `main` warns when one is used.
 */
export const kafkaSecurityOptions = (): Option[] => [
  // Checked by resolveKafkaSecurity rather than by choices, so that an empty variable means unset.
  new Option(
    '--kafka-sasl-mechanism <mechanism>',
    `SASL mechanism for Kafka: ${SASL_MECHANISMS.join(', ')} (default with a username: SCRAM-SHA-512)`
  ).env('KAFKA_SASL_MECHANISM'),
  new Option('--kafka-sasl-username <name>', 'SASL username for Kafka').env('KAFKA_SASL_USERNAME'),
  new Option(
    '--kafka-sasl-password <password>',
    'SASL password for Kafka (prefer KAFKA_SASL_PASSWORD or a file: a flag shows in the process list)'
  ).env('KAFKA_SASL_PASSWORD'),
  new Option('--kafka-sasl-password-file <file>', 'file holding the SASL password for Kafka (a mounted secret)').env(
    'KAFKA_SASL_PASSWORD_FILE'
  ),
  // A value, not a plain switch, so that KAFKA_TLS=false means false.
  new Option('--kafka-tls [true|false]', 'connect to Kafka over TLS (implied by a CA or certificate file)').env(
    'KAFKA_TLS'
  ),
  new Option('--kafka-tls-ca-file <file>', "PEM file of the CA that signs the brokers' certificates").env(
    'KAFKA_TLS_CA_FILE'
  ),
  new Option('--kafka-tls-cert-file <file>', 'PEM client certificate, for brokers that require one').env(
    'KAFKA_TLS_CERT_FILE'
  ),
  new Option('--kafka-tls-key-file <file>', 'PEM private key of the client certificate').env('KAFKA_TLS_KEY_FILE')
]

export interface KafkaSecurityFlags {
  kafkaSaslMechanism?: string
  kafkaSaslUsername?: string
  kafkaSaslPassword?: string
  kafkaSaslPasswordFile?: string
  kafkaTls?: boolean | string
  kafkaTlsCaFile?: string
  kafkaTlsCertFile?: string
  kafkaTlsKeyFile?: string
}

/** The same settings as variables, for the commands a command starts (the demo's parts). */
export function kafkaSecurityEnvironment(flags: KafkaSecurityFlags): Record<string, string> {
  const variables: Array<[string, string | boolean | undefined]> = [
    ['KAFKA_SASL_MECHANISM', flags.kafkaSaslMechanism],
    ['KAFKA_SASL_USERNAME', flags.kafkaSaslUsername],
    ['KAFKA_SASL_PASSWORD', flags.kafkaSaslPassword],
    ['KAFKA_SASL_PASSWORD_FILE', flags.kafkaSaslPasswordFile],
    ['KAFKA_TLS', flags.kafkaTls],
    ['KAFKA_TLS_CA_FILE', flags.kafkaTlsCaFile],
    ['KAFKA_TLS_CERT_FILE', flags.kafkaTlsCertFile],
    ['KAFKA_TLS_KEY_FILE', flags.kafkaTlsKeyFile]
  ]
  return Object.fromEntries(
    variables.filter(([, value]) => value !== undefined).map(([name, value]) => [name, String(value)])
  )
}

/** The settings those flags (and their variables) give. */
export function kafkaSecuritySettings(flags: KafkaSecurityFlags): KafkaSecuritySettings {
  return {
    mechanism: flags.kafkaSaslMechanism,
    username: flags.kafkaSaslUsername,
    password: flags.kafkaSaslPassword,
    passwordFile: flags.kafkaSaslPasswordFile,
    tls: flags.kafkaTls,
    caFile: flags.kafkaTlsCaFile,
    certFile: flags.kafkaTlsCertFile,
    keyFile: flags.kafkaTlsKeyFile
  }
}
