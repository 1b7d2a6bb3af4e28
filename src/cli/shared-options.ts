// Options that several commands share, each with its env var and default.
import { Option } from 'commander'
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BROKERS } from '../lib/config.ts'
import { logger } from './logger.ts'

export const brokersOption = (): Option =>
  new Option('--brokers <host:port,...>', 'Kafka bootstrap brokers').env('KAFKA_BROKERS').default(DEFAULT_KAFKA_BROKERS)

export const databaseUrlOption = (): Option =>
  new Option('--database-url <url>', 'PostgreSQL connection URL').env('DATABASE_URL').default(DEFAULT_DATABASE_URL)

export const kafkaDataDirOption = (): Option =>
  new Option('--data-dir <dir>', 'folder for the local Kafka cluster').default('./data/kafka')

/** A line of the command's log (stderr, see logger.ts), so that stdout stays clean for results. */
export const progress = (line: string): void => { logger().info(line) }
