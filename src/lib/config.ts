// Defaults shared by every command; each can be overridden by its env var and by a flag.

export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092'
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/cellstream'

export function kafkaBrokersFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.KAFKA_BROKERS ?? DEFAULT_KAFKA_BROKERS
}

export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL ?? DEFAULT_DATABASE_URL
}
