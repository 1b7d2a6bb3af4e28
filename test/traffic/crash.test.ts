import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'
import { sleep } from '../../src/lib/processes.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

test('three stream instances, killed with -9 while traffic arrives, still fill `bytes` exactly', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 6 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-crash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const traffic = [
    '--seed',
    'crash-test',
    '--from',
    '2021-02-19T20:00',
    '--users',
    '200',
    '--rate',
    '20',
    '--late-ratio',
    '0.01',
    '--bad-ratio',
    '0.01'
  ]
  const file = join(dir, 'records.jsonl')
  t.is((await cellstream(['simulate', ...traffic, '--to', '2021-02-19T23:00', '--out', file], env)).code, 0)
  const truth = await cellstream(
    ['truth', '--in', file, '--partitions', '6', '--users', '200', '--table', 'bytes', '--format', 'json'],
    env
  )
  const expected = (
    JSON.parse(truth.stdout) as { bytes: Array<{ timestamp: string; id: string; value: number; type: string }> }
  ).bytes
    .map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`)
    .sort()

  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  // Each instance's stderr (its log) goes to a file per instance; a relaunched instance appends to it.
  const logOf = (name: string): string => join(dir, `${name}.log`)
  const launch = (name: string): ChildProcess => {
    const fd = openSync(logOf(name), 'a')
    try {
      return spawn(
        process.execPath,
        [
          BIN,
          'stream',
          '--input-topic',
          input!,
          '--metadata-topic',
          metadata!,
          '--alerts-topic',
          `${group}-alerts`,
          '--group',
          group,
          '--state-dir',
          join(dir, name),
          '--archive-dir',
          join(dir, 'archive'),
          '--idle-timeout',
          '3',
          '--commit-interval',
          '300'
        ],
        { env, stdio: ['ignore', 'ignore', fd] }
      )
    } finally {
      closeSync(fd)
    }
  }
  const instances = new Map(['a', 'b', 'c'].map(name => [name, launch(name)]))
  t.teardown(() => {
    for (const child of instances.values()) child.kill('SIGKILL')
  })

  // The same records as the file, sent over about 20 seconds while instances die.
  const producer = spawn(
    process.execPath,
    [BIN, 'simulate', ...traffic, '--to', '2021-02-19T23:00', '--speed', '540', '--topic', input!],
    { env, stdio: 'ignore' }
  )
  for (const victim of ['b', 'a', 'c', 'b']) {
    await sleep(3000)
    instances.get(victim)!.kill('SIGKILL')
    await once(instances.get(victim)!, 'exit')
    instances.set(victim, launch(victim))
  }
  const [produced] = await once(producer, 'exit')
  t.is(produced, 0)

  const deadline = Date.now() + 180_000
  let rows: string[] = []
  while (Date.now() < deadline) {
    rows = await db.map(
      'SELECT "timestamp", id, value, type FROM bytes',
      [],
      row => `${(row.timestamp as Date).toISOString().replace('.000Z', 'Z')} ${row.type} ${row.id} ${row.value}`
    )
    if (rows.length >= expected.length && rows.sort().join() === expected.join()) break
    await sleep(1000)
  }
  const passed = t.deepEqual(rows.sort(), expected)
  if (!passed) {
    for (const name of instances.keys()) {
      const lines = (await readFile(logOf(name), 'utf8').catch(() => '')).trimEnd().split('\n')
      t.log(
        `last ${Math.min(60, lines.length)} of ${lines.length} lines of instance ${name}'s log:\n${lines.slice(-60).join('\n')}`
      )
    }
  }
})
