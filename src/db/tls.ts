// TLS to PostgreSQL as libpq does it: `sslmode` and `sslrootcert`/`sslcert`/`sslkey` in the
// URL, or PGSSLMODE/PGSSLROOTCERT/PGSSLCERT/PGSSLKEY. The pg driver's own reading of these
// differs (its `require` verifies the certificate, and it ignores PGSSLROOTCERT), so they
// are taken out of the URL and turned into its `ssl` option here, for every connection the
// project makes: pools, the mirror's listening session and the COPY streams alike.
import { readFileSync } from 'node:fs'
import { checkServerIdentity, type PeerCertificate } from 'node:tls'
import { UsageError, errorMessage } from '../lib/errors.ts'
import { registerSecret } from '../lib/secrets.ts'

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

const TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'uselibpqcompat']

/** The part of Node's TLS options the driver is given: PEM contents and what to verify. */
export interface PostgresTls {
  ca?: string
  cert?: string
  key?: string
  passphrase?: string
  rejectUnauthorized?: boolean
  checkServerIdentity?: (name: string, cert: PeerCertificate) => Error | undefined
}

export interface PostgresConnection {
  /** The URL without its TLS parameters. */
  connectionString: string
  /** false: no TLS. */
  ssl: false | PostgresTls
  mode: SslMode
}

export function postgresConnection(url: string, env: NodeJS.ProcessEnv = process.env): PostgresConnection {
  const parsed = new URL(url)
  const param = (name: string, variable: string): string | undefined =>
    parsed.searchParams.get(name) ?? (env[variable] === '' ? undefined : env[variable])
  const mode = param('sslmode', 'PGSSLMODE') ?? 'prefer'
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`sslmode must be one of ${SSL_MODES.join(', ')}, got '${mode}'`)
  }
  const rootCert = param('sslrootcert', 'PGSSLROOTCERT')
  const cert = param('sslcert', 'PGSSLCERT')
  const key = param('sslkey', 'PGSSLKEY')
  const passphrase = parsed.searchParams.get('sslpassword') ?? undefined
  registerSecret(passphrase)
  for (const name of TLS_PARAMETERS) parsed.searchParams.delete(name)
  const connectionString = parsed.toString()
  // Without a certificate to verify against, `allow` and `prefer` connect in plaintext: the
  // driver cannot fall back from TLS the way libpq does. `require` or stronger asks for TLS.
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') {
    return { connectionString, ssl: false, mode: mode as SslMode }
  }
  // `sslrootcert=system`: the system's certificate authorities, as libpq 16 reads it.
  const ca = rootCert === undefined || rootCert === 'system' ? undefined : readSetting('sslrootcert', rootCert)
  const ssl: PostgresTls = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert: readSetting('sslcert', cert) }),
    ...(key === undefined ? {} : { key: readSetting('sslkey', key) }),
    ...(passphrase === undefined ? {} : { passphrase })
  }
  registerSecret(ssl.key)
  // libpq: `require` with a root certificate verifies the chain (as verify-ca); without, nothing.
  const verify = mode === 'verify-full' || mode === 'verify-ca' || (mode === 'require' && ca !== undefined)
  if (!verify) ssl.rejectUnauthorized = false
  else if (mode !== 'verify-full') ssl.checkServerIdentity = () => undefined
  else {
    // The driver hands TLS an open socket and no host name for an IP address, so Node would
    // check the certificate against 'localhost': check it against the host of the URL.
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
    ssl.checkServerIdentity = (_name, cert) => checkServerIdentity(host, cert)
  }
  return { connectionString, ssl, mode: mode as SslMode }
}

function readSetting(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`${name}: cannot read ${file}: ${errorMessage(error)}`)
  }
}
