// One pg-promise instance per process; databases are opened by URL and closed with `closeDb`.
import pgPromise from 'pg-promise'
import { UnavailableError, errorMessage } from '../lib/errors.ts'
import { parseDatabaseUrl } from '../lib/options.ts'
import { postgresConnection } from './tls.ts'

// Each caller owns the pools it opens, so one component closing its pool never pulls
// another's from under it; pg-promise's warning about such duplicates does not apply.
const pgp = pgPromise({ capSQL: true, noWarnings: true })
// BIGINT sums here stay far below 2^53, so plain numbers are exact and easier to use.
pgp.pg.types.setTypeParser(20, value => Number(value))

export type Db = pgPromise.IDatabase<object>
export { pgp }

/** `url` may ask for TLS the way libpq URLs do (`sslmode`, `sslrootcert`…; see tls.ts). */
export function openDb(url: string, { max = 8 } = {}): Db {
  parseDatabaseUrl(url)
  const { connectionString, ssl } = postgresConnection(url)
  return pgp({ connectionString, ssl, max, connectionTimeoutMillis: 5000 })
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
  if (isTlsFailure(error)) {
    // Node's hint about its own CA store does not apply: the CA comes from sslrootcert.
    const reason = errorMessage(error).replace(/; if the root CA is installed locally.*$/, '')
    const hint = /verify|self[- ]signed|issuer/i.test(reason)
      ? ' (sslrootcert or PGSSLROOTCERT names the CA that signs its certificate)'
      : ''
    return new UnavailableError(`cannot connect to PostgreSQL at ${where} over TLS: ${reason}${hint}`, error)
  }
  return error
}

/** A certificate not trusted or not matching, or a server without TLS: retrying will not help. */
function isTlsFailure(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? ''
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code) ||
    /does not support SSL connections|certificate/i.test(errorMessage(error))
  )
}

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  const parsed = new URL(url)
  parsed.password = ''
  parsed.searchParams.delete('sslpassword')
  return parsed.toString()
}
