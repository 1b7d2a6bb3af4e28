import test from 'ava'
import { access, mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { waitFor } from '../helpers/wait.ts'

// A second cluster on its own ports and folder, so the broker the other tests use is untouched.
test('kafka start is idempotent, status reports it, stop stops it', async t => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cellstream-kafka-'))
  const flags = ['--data-dir', dataDir, '--port', '29092']
  t.teardown(async () => {
    await cellstream(['kafka', 'stop', ...flags])
    await rm(dataDir, { recursive: true, force: true })
  })

  const first = await cellstream(['kafka', 'start', ...flags])
  t.is(first.code, 0, first.stderr)
  t.is(first.stdout, 'started: Kafka at 127.0.0.1:29092\n')

  const second = await cellstream(['kafka', 'start', ...flags])
  t.is(second.code, 0, second.stderr)
  t.is(second.stdout, 'already running: Kafka at 127.0.0.1:29092\n')

  const status = await cellstream(['kafka', 'status', ...flags])
  t.is(status.code, 0)
  t.regex(
    status.stdout,
    /^node 1: running \(pid \d+\) on 127\.0\.0\.1:29092\nKafka answers at 127\.0\.0\.1:29092 \(1 broker\(s\)\)\n$/
  )

  const stop = await cellstream(['kafka', 'stop', ...flags])
  t.is(stop.stdout, 'stopped 1 node(s)\n')
  const after = await cellstream(['kafka', 'status', ...flags])
  t.is(after.code, 1)
  t.regex(after.stdout, /node 1: stopped on 127\.0\.0\.1:29092\nKafka does not answer/)
})

test('kafka start on a running cluster starts again the nodes that died', async t => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cellstream-kafka-'))
  const flags = ['--data-dir', dataDir, '--port', '19592', '--nodes', '3']
  t.teardown(async () => {
    await cellstream(['kafka', 'stop', ...flags.slice(0, 4)])
    await rm(dataDir, { recursive: true, force: true })
  })
  const first = await cellstream(['kafka', 'start', ...flags])
  t.is(first.code, 0, first.stderr)

  const pid = Number((await readFile(join(dataDir, 'node-2', 'pid'), 'utf8')).trim())
  process.kill(pid, 'SIGKILL')
  let lastStatus = ''
  await waitFor(
    'node 2 to be reported stopped after kill -9',
    async () => {
      lastStatus = (await cellstream(['kafka', 'status', ...flags.slice(0, 4)])).stdout
      return /node 2: stopped on 127\.0\.0\.1:19593/.test(lastStatus)
    },
    { deadlineMs: 30_000, intervalMs: 500, detail: () => `last status: ${lastStatus}` }
  )

  const again = await cellstream(['kafka', 'start', ...flags])
  t.is(again.code, 0, again.stderr)
  t.is(again.stdout, 'started: Kafka at 127.0.0.1:19592,127.0.0.1:19593,127.0.0.1:19594\n')
  const status = await cellstream(['kafka', 'status', ...flags.slice(0, 4)])
  t.regex(status.stdout, /Kafka answers at .* \(3 broker\(s\)\)/)
})

test('a missing Java or Maven is one clear line', async t => {
  const bin = await mkdtemp(join(tmpdir(), 'cellstream-bin-'))
  const cache = await mkdtemp(join(tmpdir(), 'cellstream-cache-'))
  t.teardown(() =>
    Promise.all([rm(bin, { recursive: true, force: true }), rm(cache, { recursive: true, force: true })])
  )
  const flags = ['kafka', 'start', '--data-dir', join(cache, 'data'), '--port', '39092']

  const noJava = await cellstream(flags, { PATH: bin, XDG_CACHE_HOME: cache })
  t.is(noJava.code, 3)
  t.is(noJava.stderr, "cellstream: Java (a JDK 17 or newer) is required but 'java' was not found on PATH\n")

  await symlink(await realJava(), join(bin, 'java'))
  const noMaven = await cellstream(flags, { PATH: bin, XDG_CACHE_HOME: cache })
  t.is(noMaven.code, 3)
  t.is(noMaven.stderr, "cellstream: Apache Maven is required but 'mvn' was not found on PATH\n")
})

async function realJava(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, 'java')
    if (
      await access(candidate).then(
        () => true,
        () => false
      )
    )
      return realpath(candidate)
  }
  throw new Error('java is not on PATH')
}
