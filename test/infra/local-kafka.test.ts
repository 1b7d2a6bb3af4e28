import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'

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
  t.regex(status.stdout, /^node 1: running \(pid \d+\) on 127\.0\.0\.1:29092\nKafka answers at 127\.0\.0\.1:29092 \(1 broker\(s\)\)\n$/)

  const stop = await cellstream(['kafka', 'stop', ...flags])
  t.is(stop.stdout, 'stopped 1 node(s)\n')
  const after = await cellstream(['kafka', 'status', ...flags])
  t.is(after.code, 1)
  t.regex(after.stdout, /node 1: stopped on 127\.0\.0\.1:29092\nKafka does not answer/)
})
