import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { cellstream, logLines } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { kafkaBrokers, uniqueName } from '../helpers/kafka.ts'
import { waitFor } from '../../src/lib/processes.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

test('web serves the page and every asset itself, a snapshot, and health; SIGTERM stops it', async t => {
  const { url } = await testDatabase(t)
  const env = { ...process.env, KAFKA_BROKERS: (await kafkaBrokers()).join(','), DATABASE_URL: url }
  // A group and topic nobody uses: the dashboard of a pipeline not started yet.
  const web = spawn(
    process.execPath,
    [
      BIN,
      'web',
      '--http-port',
      '0',
      '--group',
      uniqueName('web'),
      '--input-topic',
      uniqueName('devices'),
      '--archive-dir',
      '/nonexistent'
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] }
  )
  t.teardown(() => {
    web.kill('SIGKILL')
  })
  let stderr = ''
  web.stderr.on('data', chunk => {
    stderr += chunk
  })
  const base = await waitFor(async () => /dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1], {
    timeoutMs: 60_000,
    intervalMs: 100
  })
  t.truthy(base, stderr)

  const page = await (await fetch(base!)).text()
  const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)]
    .map(m => m[1]!)
    .filter(asset => !asset.startsWith('data:'))
  t.deepEqual(
    assets.filter(asset => !asset.startsWith('/')),
    [],
    'no asset from elsewhere'
  )
  t.true(assets.includes('/vendor/echarts/echarts.min.js'))
  for (const asset of [...assets, '/dashboard.js', '/charts.js'])
    t.is((await fetch(new URL(asset, base))).status, 200, asset)
  t.regex(await (await fetch(new URL('/vendor/echarts/echarts.min.js', base))).text(), /Apache/)

  const snapshot = await waitFor(
    async () => {
      const response = await fetch(new URL('/api/snapshot', base))
      return response.ok
        ? ((await response.json()) as {
            windows: { starts: number[] }
            pipeline: { partitions: unknown[]; archive: unknown[] }
            problems: string[]
          })
        : undefined
    },
    { timeoutMs: 30_000, intervalMs: 200 }
  )
  t.deepEqual(snapshot?.windows.starts, [])
  t.deepEqual(snapshot?.pipeline.partitions, [])
  t.deepEqual(snapshot?.pipeline.archive, [])
  t.deepEqual(snapshot?.problems, [])
  t.deepEqual(await (await fetch(new URL('/health', base))).json(), { status: 'ok' })

  web.kill('SIGTERM')
  const [code] = await once(web, 'exit')
  t.is(code, 0, stderr)
  t.true(
    logLines(stderr).every(line => line.level === 'info'),
    stderr
  )
})

test('web explains wrong flags, a port in use and unreachable services in one line', async t => {
  const port = await cellstream(['web', '--http-port', 'eighty'])
  t.is(port.code, 2)
  t.is(port.stderr, "cellstream: --http-port must be a whole number, got 'eighty'\n")
  const instances = await cellstream(['web', '--instances', 'ftp://somewhere'])
  t.is(instances.code, 2)
  t.is(
    instances.stderr,
    "cellstream: --instances takes http:// URLs such as http://127.0.0.1:9464, got 'ftp://somewhere'\n"
  )
  const kafka = await cellstream(['web', '--brokers', '127.0.0.1:1'])
  t.is(kafka.code, 3)
  t.regex(kafka.stderr, /^cellstream: Kafka is not reachable at 127\.0\.0\.1:1: [^\n]+\n$/)
  const postgres = await cellstream(['web', '--database-url', 'postgres://postgres@127.0.0.1:1/cellstream'], {
    KAFKA_BROKERS: (await kafkaBrokers()).join(',')
  })
  t.is(postgres.code, 3)
  t.is(
    postgres.stderr,
    'cellstream: PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/cellstream: ECONNREFUSED\n'
  )

  const { url } = await testDatabase(t)
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    taken.close()
  })
  const busy = (taken.address() as AddressInfo).port
  const inUse = await cellstream(['web', '--http-port', String(busy)], {
    KAFKA_BROKERS: (await kafkaBrokers()).join(','),
    DATABASE_URL: url
  })
  t.is(inUse.code, 2)
  t.is(inUse.stderr, `cellstream: port ${busy} on 127.0.0.1 is in use; pick another with --http-port\n`)
})
