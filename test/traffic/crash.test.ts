import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, readTopic, testTopics, uniqueName } from '../helpers/kafka.ts'
import { queryArchive } from '../helpers/read-archive.ts'
import { tableLines } from '../helpers/stream.ts'
import { collect, waitFor, waitForExit } from '../helpers/wait.ts'
import { Fetcher, headerValue } from '../../src/kafka/fetcher.ts'
import { createConsumer } from '../../src/kafka/clients.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { DEAD_LETTER_HEADERS } from '../../src/runtime/source-task.ts'
import { WINDOW_HEADERS } from '../../src/runtime/window-outputs.ts'
import type { RawRecord } from '../../src/topology/records.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))

interface Truth {
  summary: { valid: number; invalid: number; invalidByReason: Record<string, number> }
  bytes: Array<{ timestamp: string; id: string; value: number; type: string }>
  bytes_hourly: Array<{ timestamp: string; id: string; value: number; type: string }>
  quota_alerts: Array<{ email: string; usage: number; quota: number; timestamp: string }>
}

/** True once `group` has committed every partition of `topic` up to its end offset. */
async function inputCommitted(brokers: string[], group: string, topic: string): Promise<boolean> {
  const consumer = createConsumer(brokers, 'offsets', uniqueName('offsets'))
  try {
    const ends = await new Fetcher(consumer).endOffsets(topic)
    const groups = await withAdmin(brokers, admin => admin.listConsumerGroupOffsets({ groups: [group] }))
    const committed = groups[0]?.topics.find(entry => entry.name === topic)?.partitions ?? []
    return ends.every((end, partition) => committed.find(p => p.partitionIndex === partition)?.committedOffset === end)
  } finally {
    await consumer.close(true)
  }
}

/** A `cellstream` process and its log (stderr). */
interface Running {
  name: string
  child: ChildProcess
  log: () => string
}

function start(name: string, args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  return { name, child, log: collect(child.stderr!) }
}

/** The exactly-once commits a stream instance made since it started, from its /metrics. */
async function commits(instance: Running): Promise<number> {
  const port = await waitFor(
    `instance ${instance.name} to print its metrics address`,
    () => /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(instance.log())?.[1],
    { deadlineMs: 120_000, children: [instance.child] }
  )
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return Number(/^cellstream_commits (\d+)$/m.exec(metrics)?.[1] ?? 0)
}

/** Rebalances the instance went through (it logs each assignment). */
function assignments(instance: Running): number {
  return instance
    .log()
    .split('\n')
    .filter(line => line.includes('"msg":"assigned ')).length
}

/** Stops the instances one after the other, each once the others went through the rebalance it caused. */
async function stopAll(t: ExecutionContext, instances: Running[]): Promise<void> {
  for (const [i, instance] of instances.entries()) {
    const others = instances.slice(i + 1)
    const before = others.map(assignments)
    instance.child.kill('SIGTERM')
    const code = await waitForExit(`instance ${instance.name} to exit after SIGTERM`, instance.child, 120_000)
    t.is(code, 0, `instance ${instance.name} stopped cleanly; its log ends:\n${instance.log().slice(-3000)}`)
    for (const [j, other] of others.entries())
      await waitFor(
        `instance ${other.name} to rebalance after ${instance.name} left`,
        () => assignments(other) > before[j]!,
        { deadlineMs: 120_000, children: [other.child] }
      )
  }
}

/** Every instance killed once, in a random order, then one more chosen at random. */
function victims(names: string[]): string[] {
  const order = [...names]
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  return [...order, names[Math.floor(Math.random() * names.length)]!]
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z')

/** Counts of each distinct value. */
function histogram(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}

const coordinates = (r: RawRecord): string =>
  `${headerValue(r, DEAD_LETTER_HEADERS.partition)}:${headerValue(r, DEAD_LETTER_HEADERS.offset)}`

test('three stream instances, killed with -9 while traffic arrives, still fill every output exactly once', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 6 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-crash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const traffic = ['--seed', 'crash-test', '--from', '2021-02-19T20:00', '--users', '200', '--rate', '20']
  const bad = ['--late-ratio', '0.01', '--bad-ratio', '0.01']
  const file = join(dir, 'records.jsonl')
  t.is((await cellstream(['simulate', ...traffic, ...bad, '--to', '2021-02-19T23:00', '--out', file], env)).code, 0)
  const truthRun = await cellstream(
    ['truth', '--in', file, '--partitions', '6', '--users', '200', '--format', 'json'],
    env
  )
  t.is(truthRun.code, 0, truthRun.stderr)
  const truth = JSON.parse(truthRun.stdout) as Truth
  const expected = truth.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort()
  t.true(truth.quota_alerts.length > 0 && truth.summary.invalid > 0, 'the traffic has quota alerts and bad records')

  // The users' quotas reach the metadata topic before any instance starts, so that every
  // alert the truth has can be seen.
  const provisioned = await cellstream(
    ['simulate', ...traffic, '--events', '0', '--provision', '--out', join(dir, 'none.jsonl')],
    env
  )
  t.is(provisioned.code, 0, provisioned.stderr)
  const { n: users } = (await db.one('SELECT count(*)::int AS n FROM user_metadata')) as { n: number }
  const mirror = start('mirror', ['mirror', '--topic', metadata!], env)
  t.teardown(() => mirror.child.kill('SIGKILL'))
  await waitFor(
    `${users} users on the metadata topic`,
    async () => new Set((await readTopic(metadata!)).map(r => r.key?.toString())).size >= users,
    { deadlineMs: 120_000, intervalMs: 500, children: [mirror.child] }
  )
  mirror.child.kill('SIGTERM')
  t.is(await waitForExit('the mirror to stop', mirror.child, 60_000), 0)

  const group = uniqueName('group')
  const alerts = `${group}-alerts`
  cleanUpAfter(t, [group, `${input}-`])
  const logs: string[] = []
  const launch = (name: string): Running =>
    start(
      name,
      [
        'stream',
        '--input-topic',
        input!,
        '--metadata-topic',
        metadata!,
        '--alerts-topic',
        alerts,
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
      env
    )
  const names = ['a', 'b', 'c']
  const instances = new Map(names.map(name => [name, launch(name)]))
  t.teardown(() => {
    for (const instance of instances.values()) instance.child.kill('SIGKILL')
  })

  // The same records as the file, sent over about 40 seconds while instances die.
  const producer = start(
    'producer',
    ['simulate', ...traffic, ...bad, '--to', '2021-02-19T23:00', '--speed', '270', '--topic', input!],
    env
  )
  t.teardown(() => producer.child.kill('SIGKILL'))
  const producing = (): boolean => producer.child.exitCode === null && producer.child.signalCode === null

  // Each victim is killed once it has committed since it started: the kill lands mid-work.
  const rounds = victims(names)
  t.log(`victims in order: ${rounds.join(', ')}`)
  let landed = 0
  let whileInputArrived = 0
  for (const [round, name] of rounds.entries()) {
    const victim = instances.get(name)!
    await waitFor(`instance ${name} to commit in round ${round}`, async () => (await commits(victim)) > 0, {
      deadlineMs: 120_000,
      intervalMs: 100,
      children: [victim.child]
    })
    if (producing()) whileInputArrived++
    victim.child.kill('SIGKILL')
    await waitForExit(`instance ${name} to die of SIGKILL`, victim.child, 30_000)
    if (victim.child.signalCode === 'SIGKILL') landed++
    logs.push(`instance ${name} before kill ${round}:\n${victim.log().slice(-2000)}`)
    instances.set(name, launch(name))
  }
  t.is(await waitForExit('the producer to send every record', producer.child, 180_000), 0, producer.log())
  t.log(`${landed} kills landed after a commit of their victim, ${whileInputArrived} while input still arrived`)
  t.is(landed, rounds.length, 'every kill landed on an instance that had committed since it started')
  t.true(whileInputArrived > 0, 'a kill landed while input still arrived')

  // Once the tables hold what the truth has, the instances stop with a last commit; the
  // topics are then read to their end.
  const expectedAlerts = truth.quota_alerts.map(r => `${r.timestamp} ${r.email} ${r.usage} ${r.quota}`).sort()
  const tables = async (): Promise<[string[], string[]]> => [
    await db.map(
      'SELECT "timestamp", id, value, type FROM bytes',
      [],
      row => `${iso((row.timestamp as Date).getTime())} ${row.type} ${row.id} ${row.value}`
    ),
    await tableLines(db, 'quota_alerts')
  ]
  await waitFor(
    'the bytes and quota_alerts tables to hold the truth',
    async () => {
      const [rows, alerted] = await tables()
      return rows.sort().join() === expected.join() && alerted.join() === expectedAlerts.join()
    },
    { deadlineMs: 180_000, intervalMs: 1000 }
  ).catch((error: Error) => {
    t.log(error.message)
    for (const instance of instances.values())
      t.log(`instance ${instance.name}'s log ends:\n${instance.log().slice(-4000)}`)
  })
  const [rows, alerted] = await tables()
  t.deepEqual(rows.sort(), expected)
  t.deepEqual(alerted, expectedAlerts, 'quota_alerts: each alert once, with its closed hour usage')
  // The tables can be complete while the tail of a partition (bad records only, say) still
  // waits to be read: the topics below are read once the group committed the whole input.
  await waitFor('the group to commit every offset of the input', () => inputCommitted(brokers, group, input!), {
    deadlineMs: 120_000,
    intervalMs: 500
  })
  await stopAll(t, [...instances.values()])

  // The alerts topic: one alert per user and hour over quota, none twice, none missing (its
  // usage is the one seen when the alert fired, so it is left out).
  const published = (await readTopic(alerts)).map(r => {
    const alert = JSON.parse(r.value!.toString()) as { email: string; quota: number }
    return `${iso(Number(headerValue(r, WINDOW_HEADERS.start)))} ${alert.email} ${alert.quota}`
  })
  t.deepEqual(published.sort(), truth.quota_alerts.map(r => `${r.timestamp} ${r.email} ${r.quota}`).sort())

  // The dead-letter topic: each bad record once, with the truth's reason (the header's code,
  // before the detail).
  const letters = await readTopic(`${input}-dlq`)
  t.is(letters.length, truth.summary.invalid, 'one dead letter per bad record')
  t.is(new Set(letters.map(coordinates)).size, letters.length, 'no bad record twice')
  t.deepEqual(
    histogram(letters.map(r => headerValue(r, DEAD_LETTER_HEADERS.reason)!.split(':')[0]!)),
    truth.summary.invalidByReason
  )

  // The archive: after compaction, every valid event once, and the hourly totals of the truth.
  const compact = await cellstream(
    ['compact', '--from', '2021-02-19T19:00', '--to', '2021-02-19T23:00', '--archive-dir', join(dir, 'archive')],
    env
  )
  t.is(compact.code, 0, compact.stderr)
  const [archived] = await queryArchive(
    join(dir, 'archive'),
    source => `SELECT count(*) AS n, count(DISTINCT (topic, partition, "offset")) AS d FROM ${source}`
  )
  t.deepEqual([Number(archived!.n), Number(archived!.d)], [truth.summary.valid, truth.summary.valid])
  t.deepEqual(
    await tableLines(db, 'bytes_hourly'),
    truth.bytes_hourly.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort()
  )
  if (!t.passed) for (const log of logs) t.log(log)
})
