// A private PostgreSQL that takes TLS connections only, for the tests of `sslmode`: its own
// cluster (initdb) in a temporary folder on a free port, with a certificate for `localhost`
// from a CA of its own; stopped and deleted at the end. The shared server is never touched.
import { execFile } from 'node:child_process'
import { chmod, chown, mkdtemp, readdir, rm, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './ports.ts'

const exec = promisify(execFile)
const APP = { user: 'app', password: 'appSecret-3c5e7a9b' }

export interface TlsPostgres {
  port: number
  /** The CA that signed the server's certificate (for `localhost` only, not 127.0.0.1). */
  caFile: string
  /** A URL to database `name` on it as `postgres` (trusted), with `params` (sslmode, sslrootcert…). */
  url: (host: string, name: string, params?: Record<string, string>) => string
  /** A user that logs in with this password (SCRAM), and may create databases. */
  app: { user: string; password: string }
  stop: () => Promise<void>
}

export async function startTlsPostgres(): Promise<TlsPostgres> {
  const bin = join('/usr/lib/postgresql', (await readdir('/usr/lib/postgresql')).sort().at(-1)!, 'bin')
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-tls-postgres-'))
  const data = join(dir, 'data')
  // initdb refuses to run as root: the server then runs as the machine's postgres user.
  const root = process.getuid?.() === 0
  const { stdout } = root ? await exec('id', ['-u', 'postgres']) : { stdout: String(process.getuid?.()) }
  const uid = Number(stdout.trim())
  const asOwner = (command: string, args: string[]): Promise<unknown> =>
    root ? exec('runuser', ['-u', 'postgres', '--', command, ...args]) : exec(command, args)
  await chmod(dir, 0o755)
  if (root) await chown(dir, uid, uid)
  const port = await freePort(30_000, 9_000)
  const stop = async (): Promise<void> => {
    await asOwner(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await asOwner(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync'])
    const at = (name: string): string => join(dir, name)
    await exec(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test CA'].concat([
        '-keyout',
        at('ca.key'),
        '-out',
        at('ca.pem')
      ])
    )
    await exec('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      at('server.key'),
      '-out',
      at('server.csr')
    ])
    await writeFile(at('server.ext'), 'subjectAltName=DNS:localhost\n')
    await exec('openssl', [
      'x509',
      '-req',
      '-days',
      '2',
      '-CAcreateserial',
      '-in',
      at('server.csr'),
      '-CA',
      at('ca.pem'),
      '-CAkey',
      at('ca.key'),
      '-out',
      at('server.pem'),
      '-extfile',
      at('server.ext')
    ])
    await chmod(at('server.key'), 0o600)
    if (root) await chown(at('server.key'), uid, uid)
    await appendFile(
      join(data, 'postgresql.conf'),
      [
        `port = ${port}`,
        "listen_addresses = 'localhost'",
        `unix_socket_directories = '${dir}'`,
        'ssl = on',
        `ssl_cert_file = '${at('server.pem')}'`,
        `ssl_key_file = '${at('server.key')}'`,
        'fsync = off',
        ''
      ].join('\n')
    )
    // TLS or nothing: a plaintext connection finds no line that admits it.
    await writeFile(
      join(data, 'pg_hba.conf'),
      [
        'local all all trust',
        `hostssl all ${APP.user} localhost scram-sha-256`,
        `hostssl all ${APP.user} 127.0.0.1/32 scram-sha-256`,
        'hostssl all all localhost trust',
        'hostssl all all 127.0.0.1/32 trust',
        ''
      ].join('\n')
    )
    if (root) await chown(join(data, 'pg_hba.conf'), uid, uid)
    await asOwner(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', 'start'])
    await asOwner(join(bin, 'psql'), [
      ...['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1'],
      ...['-c', `CREATE ROLE ${APP.user} LOGIN CREATEDB PASSWORD '${APP.password}'`]
    ])
  } catch (error) {
    await stop()
    throw error
  }
  return {
    port,
    caFile: join(dir, 'ca.pem'),
    url: (host, name, params = {}) => {
      const url = new URL(`postgres://postgres@${host}:${port}/${name}`)
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value)
      return url.toString()
    },
    app: APP,
    stop
  }
}
