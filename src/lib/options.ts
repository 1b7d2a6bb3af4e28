// Option checks shared by the CLI and the libraries: each returns the parsed value or
// throws a UsageError whose message names the option and what it expects.
import { UsageError } from './errors.ts'

export function parseInteger(
  name: string,
  raw: string,
  { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = {}
): number {
  const value = Number(raw)
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value)) {
    throw new UsageError(`${name} must be a whole number, got '${raw}'`)
  }
  if (value < min || value > max) {
    throw new UsageError(`${name} must be between ${min} and ${max}, got ${value}`)
  }
  return value
}

export function parseNumber(name: string, raw: string, { min = -Infinity, max = Infinity } = {}): number {
  const value = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${name} must be a number, got '${raw}'`)
  if (value < min || value > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

export function parseChoice<T extends string>(name: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`${name} must be one of ${choices.join(', ')}, got '${raw}'`)
  }
  return raw as T
}

/** Parses `host:port[,host:port…]` into a list of broker addresses. */
export function parseBrokers(raw: string): string[] {
  const brokers = raw
    .split(',')
    .map(b => b.trim())
    .filter(b => b !== '')
  if (brokers.length === 0) throw new UsageError('KAFKA_BROKERS must list at least one host:port')
  for (const broker of brokers) {
    const match = /^(.+):(\d+)$/.exec(broker)
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw new UsageError(`a Kafka broker must be host:port, got '${broker}'`)
    }
  }
  return brokers
}

/** Parses a database URL, accepting only postgres:// and postgresql://. */
export function parseDatabaseUrl(raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`DATABASE_URL must be a URL like postgres://user@host:5432/db, got '${raw}'`)
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`DATABASE_URL must start with postgres://, got '${raw}'`)
  }
  if (url.pathname.length <= 1) throw new UsageError(`DATABASE_URL must name a database, got '${raw}'`)
  return url
}
