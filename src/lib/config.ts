// Defaults shared by every command; each can be overridden by its env var and by a flag.
import { readFileSync } from 'node:fs'
import { UsageError, errorMessage } from './errors.ts'
import { parseDatabaseUrl } from './options.ts'
import { registerSecret } from './secrets.ts'

export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092'
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/cellstream'

export function kafkaBrokersFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.KAFKA_BROKERS ?? DEFAULT_KAFKA_BROKERS
}

export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL ?? DEFAULT_DATABASE_URL
}

/**
 * `url` with the password read from `file` (a mounted secret, as DATABASE_PASSWORD_FILE names
 * it), so that the URL itself need not hold one. A URL with another password is refused: which
 * of the two is meant cannot be told. (One with the same password is what a command passes on
 * to the commands it starts, such as the demo's parts.)
 */
export function databaseUrlWithPasswordFile(url: string, file: string): string {
  const parsed = parseDatabaseUrl(url)
  let password: string
  try {
    password = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  } catch (error) {
    throw new UsageError(`DATABASE_PASSWORD_FILE: cannot read ${file}: ${errorMessage(error)}`)
  }
  registerSecret(password)
  if (parsed.password !== '' && decodeURIComponent(parsed.password) !== password)
    throw new UsageError('give the database password in DATABASE_URL or DATABASE_PASSWORD_FILE, not both')
  if (parsed.username === '') parsed.username = 'postgres'
  parsed.password = encodeURIComponent(password)
  return parsed.toString()
}
