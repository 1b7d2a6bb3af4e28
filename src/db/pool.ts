// One pg-promise instance per process; databases are opened by URL and closed with `closeDb`.
import pgPromise from 'pg-promise'
import { UnavailableError, errorMessage } from '../lib/errors.ts'
import { parseDatabaseUrl } from '../lib/options.ts'

// Each caller owns the pools it opens, so one component closing its pool never pulls
// another's from under it; pg-promise's warning about such duplicates does not apply.
const pgp = pgPromise({ capSQL: true, noWarnings: true })
// BIGINT sums here stay far below 2^53, so plain numbers are exact and easier to use.
pgp.pg.types.setTypeParser(20, value => Number(value))

export type Db = pgPromise.IDatabase<object>
export { pgp }

export function openDb(url: string, { max = 8 } = {}): Db {
  parseDatabaseUrl(url)
  return pgp({ connectionString: url, max, connectionTimeoutMillis: 5000 })
}

export async function closeDb(db: Db): Promise<void> {
  // end() resolves before the sockets are closed, and the pool stops handling their errors:
  // a server that ends one of them then (a dropped database, a restart) must not crash us.
  db.$pool.on('error', () => {})
  await db.$pool.end()
}

/** Turns connection failures into one-line UnavailableErrors; other errors pass through. */
export function describeDbError(error: unknown, url: string): unknown {
  const code = (error as { code?: string }).code
  const where = safeUrl(url)
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'ETIMEDOUT' ||
    code === 'EHOSTUNREACH' ||
    /timeout/i.test(errorMessage(error))
  ) {
    return new UnavailableError(`PostgreSQL is not reachable at ${where}: ${code ?? errorMessage(error)}`, error)
  }
  if (code === '3D000')
    return new UnavailableError(`database ${where} does not exist; run 'cellstream db migrate'`, error)
  if (code === '42P01')
    return new UnavailableError(`${errorMessage(error)} in ${where}; run 'cellstream db migrate'`, error)
  if (code === '28P01' || code === '28000')
    return new UnavailableError(`PostgreSQL refused the login for ${where}: ${errorMessage(error)}`, error)
  return error
}

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  const parsed = new URL(url)
  parsed.password = ''
  return parsed.toString()
}
