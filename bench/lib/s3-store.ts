// The S3-compatible store for `bench/compact.ts --s3`: S3Proxy (a Java server, backed here by a
// local folder through jclouds' filesystem provider; bench/s3proxy/pom.xml), s3rver (the tests'
// single-threaded server, in this process: test/helpers/s3-server.ts), or a store of one's own
// (`s3://bucket/prefix`, reached through the usual AWS variables, as `--archive-url` is).
import type { ExecutionContext } from 'ava'
import { createCipheriv, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArchiveUrl } from '../../src/archive/archive-url.ts'
import { S3Archive } from '../../src/archive/s3-archive.ts'
import { run } from '../../src/lib/processes.ts'
import { freePort } from '../../test/helpers/ports.ts'
import { startS3Server, TEST_BUCKET } from '../../test/helpers/s3-server.ts'
import { start, stop } from './processes.ts'

const S3PROXY = fileURLToPath(new URL('../s3proxy/', import.meta.url))
const BUCKET = 'cellstream-bench'

export interface BenchStore {
  /** The archive in the store, for `compactHours({ s3 })`. */
  archive: S3Archive
  /** What the numbers were measured on, for the output. */
  server: string
  close: () => Promise<void>
}

/** `s3proxy`, `s3rver`, or an `s3://bucket/prefix` URL of a store that is already there. */
export async function openBenchStore(which: string, prefix: string): Promise<BenchStore> {
  if (which === 's3proxy') return await startS3Proxy(prefix)
  if (which === 's3rver') return await startS3rver(prefix)
  const location = parseArchiveUrl(which)
  if (location.kind !== 's3') throw new Error(`--s3 must be s3proxy, s3rver or s3://bucket/prefix, got '${which}'`)
  const archive = new S3Archive(location)
  return {
    archive,
    server: `${location.url} (AWS_ENDPOINT_URL ${process.env.AWS_ENDPOINT_URL ?? 'unset'})`,
    close: async () => archive.close()
  }
}

async function startS3Proxy(prefix: string): Promise<BenchStore> {
  const built = await run(
    'mvn',
    ['-q', '-B', '-f', join(S3PROXY, 'pom.xml'), 'dependency:copy-dependencies'],
    'Apache Maven'
  )
  if (built.code !== 0)
    throw new Error(`S3Proxy's jars were not fetched:\n${(built.stdout + built.stderr).slice(-3000)}`)
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-bench-s3proxy-'))
  const port = await freePort(19_000, 1_000)
  const env = {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: `bench-${randomBytes(12).toString('hex')}`
  }
  // With the filesystem provider a bucket is a folder under the base directory.
  await mkdir(join(dir, 'store', BUCKET), { recursive: true })
  const properties = join(dir, 's3proxy.conf')
  await writeFile(
    properties,
    [
      `s3proxy.endpoint=${env.AWS_ENDPOINT_URL}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${env.AWS_ACCESS_KEY_ID}`,
      `s3proxy.credential=${env.AWS_SECRET_ACCESS_KEY}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${join(dir, 'store')}`,
      ''
    ].join('\n')
  )
  const server = start('java', [
    '-cp',
    join(S3PROXY, 'target/lib/*'),
    `-Dlogback.configurationFile=${join(S3PROXY, 'logback.xml')}`,
    'org.gaul.s3proxy.Main',
    '--properties',
    properties
  ])
  // Not left running by a benchmark that fails before it stops the server.
  process.once('exit', () => server.child.kill('SIGKILL'))
  const close = async (): Promise<void> => {
    await stop(server)
    await rm(dir, { recursive: true, force: true })
  }
  // Up once it answers anything: an unsigned request gets 403.
  const deadline = Date.now() + 120_000
  for (;;) {
    if (server.child.exitCode !== null) {
      await close()
      throw new Error(`S3Proxy exited:\n${server.log()}`)
    }
    if (
      await fetch(env.AWS_ENDPOINT_URL).then(
        () => true,
        () => false
      )
    )
      break
    if (Date.now() > deadline) {
      await close()
      throw new Error(`S3Proxy did not answer within 120 s:\n${server.log()}`)
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  const archive = new S3Archive(parseS3(`s3://${BUCKET}/${prefix}`), env)
  return {
    archive,
    server: `S3Proxy 2.6.0 (jclouds filesystem provider) at ${env.AWS_ENDPOINT_URL}`,
    close: async () => {
      archive.close()
      await close()
    }
  }
}

async function startS3rver(prefix: string): Promise<BenchStore> {
  // s3rver ciphers ListObjectsV2's continuation tokens with DES, which Node's OpenSSL 3 has only
  // in its legacy provider: without it, listing more than 1,000 objects (an hour of more than
  // 1,000 files) fails with InternalError.
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8))
  } catch {
    throw new Error('--s3 s3rver lists more than 1,000 objects only with NODE_OPTIONS=--openssl-legacy-provider')
  }
  // The tests' helper: its teardowns are run by close().
  const teardowns: Array<() => Promise<void> | void> = []
  const context = { teardown: (f: () => Promise<void> | void) => teardowns.push(f) } as unknown as ExecutionContext
  const server = await startS3Server(context)
  const archive = new S3Archive(parseS3(server.url(prefix)), server.env)
  return {
    archive,
    server: `s3rver (in this process) at ${server.env.AWS_ENDPOINT_URL}, bucket ${TEST_BUCKET}`,
    close: async () => {
      archive.close()
      for (const teardown of teardowns.reverse()) await teardown()
    }
  }
}

function parseS3(url: string): { bucket: string; prefix: string; url: string } {
  const location = parseArchiveUrl(url)
  if (location.kind !== 's3') throw new Error(`not an s3:// URL: ${url}`)
  return location
}
