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
 * it), so that the URL itself need not hold one. A URL that has a password already is refused:
 * which of the two is meant cannot be told.
 */
export function databaseUrlWithPasswordFile(url: string, file: string): string {
  const parsed = parseDatabaseUrl(url)
  if (parsed.password !== '')
    throw new UsageError('give the database password in DATABASE_URL or DATABASE_PASSWORD_FILE, not both')
  let password: string
  try {
    password = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  } catch (error) {
    throw new UsageError(`DATABASE_PASSWORD_FILE: cannot read ${file}: ${errorMessage(error)}`)
  }
  registerSecret(password)
  if (parsed.username === '') parsed.username = 'postgres'
  parsed.password = encodeURIComponent(password)
  return parsed.toString()
}
