// A local S3-compatible server (s3rver) for tests: on a free port, its objects in a temp
// folder removed when the test ends. `stop()` and `start()` take it away and bring it back on
// the same port and folder, for outages.
import type { ExecutionContext } from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import S3rver from 's3rver'
// s3rver checks signatures against the key pairs of its one account: a secret of the test's
// own lets a test look for it in what the processes print.
import Account from 's3rver/lib/models/account.js'

export interface S3Server {
  /** The variables a cellstream process needs to reach the server, credentials included. */
  env: Record<string, string>
  /** s3://BUCKET/PREFIX for `--archive-url`. */
  url: (prefix: string) => string
  secret: string
  port: number
  stop: () => Promise<void>
  start: () => Promise<void>
}

export const TEST_BUCKET = 'cellstream-test'

export async function startS3Server(t: ExecutionContext): Promise<S3Server> {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-s3-'))
  const accessKey = `test-${randomBytes(4).toString('hex')}`
  const secret = `secret-${randomBytes(12).toString('hex')}`
  Account.DUMMY_ACCOUNT.createKeyPair(accessKey, secret)
  let port = 0
  let server: S3rver | undefined
  const start = async (): Promise<void> => {
    server = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: TEST_BUCKET, configs: [] }]
    })
    port = (await server.run()).port
  }
  const stop = async (): Promise<void> => {
    const running = server
    server = undefined
    if (running === undefined) return
    const closed = running.close()
    // Clients keep connections open; an outage ends them too.
    running.httpServer?.closeAllConnections()
    await closed
  }
  await start()
  t.teardown(async () => {
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  return {
    env: {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secret
    },
    url: prefix => `s3://${TEST_BUCKET}/${prefix}`,
    secret,
    port,
    stop,
    start
  }
}
