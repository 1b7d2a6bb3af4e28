import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'
import { pipelineArgs, startStream, stopStream, tableLines } from '../helpers/stream.ts'
import { waitFor } from '../helpers/wait.ts'
import type { Db } from '../../src/db/pool.ts'

interface Row {
  timestamp: string
  id?: string
  type?: string
  value?: number
  email?: string
  usage?: number
  quota?: number
}
interface Truth {
  bytes: Row[]
  bytes_hourly: Row[]
  user_quota_limit: Row[]
  quota_alerts: Row[]
}

const bytesLine = (r: Row): string => `${r.timestamp} ${r.type} ${r.id} ${r.value}`
const quotaLine = (r: Row): string => `${r.timestamp} ${r.email} ${r.usage} ${r.quota}`
const TABLES = ['user_metadata', 'bytes', 'bytes_hourly', 'user_quota_limit', 'quota_alerts'] as const

test('reset and replay with two instances give identical tables, all five of them (only detected_at differs)', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 6 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-replay-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const traffic = [
    '--seed',
    'replay',
    '--from',
    '2021-02-19T20:00',
    '--to',
    '2021-02-19T23:00',
    '--users',
    '60',
    '--rate',
    '4',
    '--bad-ratio',
    '0.02',
    '--late-ratio',
    '0.03'
  ]
  const file = join(dir, 'records.jsonl')
  t.is((await cellstream(['simulate', ...traffic, '--out', file], env)).code, 0)
  t.is((await cellstream(['simulate', ...traffic, '--topic', input!, '--provision'], env)).code, 0)
  const truth = JSON.parse(
    (await cellstream(['truth', '--in', file, '--partitions', '6', '--users', '60', '--format', 'json'], env)).stdout
  ) as Truth
  t.true(truth.quota_alerts.length > 5, `the input has alerts (${truth.quota_alerts.length})`)

  const args = (instance: string): string[] =>
    pipelineArgs(
      {
        input: input!,
        metadata: metadata!,
        group,
        dir,
        stateDir: join(dir, instance),
        idleTimeout: 3,
        mirror: instance === 'a'
      },
      '--commit-interval',
      '300'
    )

  const run = async (): Promise<Record<string, string[]>> => {
    const instances = ['a', 'b'].map(instance => startStream(t, args(instance), env))
    await waitFor(
      "the stream to reach the truth's bytes and quota_alerts",
      async () =>
        equal(await tableLines(db, 'bytes'), truth.bytes.map(bytesLine)) &&
        equal(await tableLines(db, 'quota_alerts'), truth.quota_alerts.map(quotaLine)),
      {
        deadlineMs: 180_000,
        intervalMs: 500,
        children: instances.map(i => i.child),
        detail: () => instances.map(i => i.log()).join('\n')
      }
    )
    const codes = await Promise.all(instances.map(stopStream))
    t.deepEqual(codes, [0, 0], instances.map(i => i.log()).join('\n'))
    const compact = await cellstream(
      ['compact', '--from', '2021-02-19T19:00', '--to', '2021-02-19T23:00', '--archive-dir', join(dir, 'archive')],
      env
    )
    t.is(compact.code, 0, compact.stderr)
    return await snapshot(db)
  }

  const first = await run()
  t.deepEqual(first.bytes_hourly, truth.bytes_hourly.map(bytesLine).sort())
  t.deepEqual(first.user_quota_limit, truth.user_quota_limit.map(quotaLine).sort())
  t.is(first.user_metadata!.length, 60)

  // Reset with both instances' state folders, then again (nothing left on the broker): both work.
  const reset = await cellstream(
    ['reset', '--group', group, '--state-dir', join(dir, 'a'), '--state-dir', join(dir, 'b')],
    env
  )
  t.is(reset.code, 0, reset.stderr)
  t.regex(reset.stdout, /offsets deleted, \d+ internal topics deleted/)
  const again = await cellstream(['reset', '--group', group, '--state-dir', join(dir, 'a')], env)
  t.is(again.code, 0, again.stderr)
  t.regex(again.stdout, /no committed offsets, 0 internal topics deleted/)
  await db.none('TRUNCATE bytes, bytes_hourly, user_quota_limit, quota_alerts')
  await rm(join(dir, 'archive'), { recursive: true, force: true })

  const second = await run()
  for (const table of TABLES) t.deepEqual(second[table], first[table], `${table} is identical after the replay`)
})

async function snapshot(db: Db): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {}
  for (const table of TABLES) tables[table] = await tableLines(db, table)
  return tables
}

function equal(actual: string[], expected: string[]): boolean {
  if (actual.length !== expected.length) return false
  const sorted = [...expected].sort()
  return actual.every((line, i) => line === sorted[i])
}
