import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Producer } from '@platformatic/kafka'
import { createProducer } from '../../src/kafka/clients.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { sleep } from '../../src/lib/processes.ts'
import { expectedTotals, produceUsage, usageEvents } from '../helpers/usage-data.ts'
import { app, lines, readWindows, setup, type Setup } from '../helpers/sample-app.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/usage-instance.ts', import.meta.url))

function launch(s: Setup, instance: string): ChildProcess {
  const config = {
    brokers: s.brokers,
    topics: s.topics,
    applicationId: s.applicationId,
    stateDir: join(s.stateDir, instance)
  }
  return spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, CELLSTREAM_TEST_APP: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
}

async function started(child: ChildProcess): Promise<void> {
  for await (const chunk of child.stdout!) if (String(chunk).includes('started')) return
}

test('kill -9 of random instances during the run loses nothing and counts nothing twice', async t => {
  const s = await setup(t, 6)
  const events = usageEvents(60_000, 6)
  const { totals } = expectedTotals(events)
  const producer = createProducer(s.brokers, 'test')
  await produceUsage(producer, s.topics.input, events.slice(0, 30_000))

  const instances = ['a', 'b', 'c']
  const children = new Map(instances.map(i => [i, launch(s, i)]))
  t.teardown(() => {
    for (const child of children.values()) child.kill('SIGKILL')
  })
  await Promise.all([...children.values()].map(started))

  // The rest of the input arrives while instances are being killed and restarted.
  const producing = produceUsage(producer, s.topics.input, events.slice(30_000))
  let seed = 7
  for (let round = 0; round < 4; round++) {
    await sleep(1500)
    seed = (seed * 31 + 11) % 97
    const victim = instances[seed % instances.length]!
    children.get(victim)!.kill('SIGKILL')
    await once(children.get(victim)!, 'exit')
    const restarted = launch(s, victim)
    children.set(victim, restarted)
    await started(restarted)
  }
  await producing
  await producer.close()

  const windows = await readWindows(s.brokers, s.topics.output, w => w.size >= totals.size, 240_000)
  t.deepEqual(
    [...windows].filter(([, values]) => values.length > 1),
    [],
    'no window emitted twice'
  )
  t.deepEqual(lines([...windows].map(([id, values]) => [id, values[0]!])), lines(totals))
})

test('SIGTERM commits, leaves the group and exits 0', async t => {
  const s = await setup(t, 3)
  const events = usageEvents(3000, 3)
  const producer = createProducer(s.brokers, 'test')
  await produceUsage(producer, s.topics.input, events)
  await producer.close()
  const child = launch(s, 'solo')
  t.teardown(() => child.kill('SIGKILL'))
  await started(child)
  const { totals } = expectedTotals(events)
  await readWindows(s.brokers, s.topics.output, w => w.size >= totals.size)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.is(code, 0)
  const offsets = await withAdmin(s.brokers, admin => admin.listConsumerGroupOffsets({ groups: [s.applicationId] }))
  const committed = offsets[0]!.topics
    .find(topic => topic.name === s.topics.input)!
    .partitions.map(p => p.committedOffset)
    .sort()
  t.deepEqual(committed, [1000n, 1000n, 1000n], 'every input record is committed')
  const groups = await withAdmin(s.brokers, admin => admin.describeGroups({ groups: [s.applicationId] }))
  t.is(groups.get(s.applicationId)?.members.size, 0, 'the instance left the group')
})

/**
 * A transaction that holds offsets of the group, neither committed nor aborted: what an
 * instance killed in the middle of a commit leaves. Its transaction times out after `timeoutMs`.
 */
async function openTransactionWithOffsets(
  t: ExecutionContext,
  s: Setup,
  transactionalId: string,
  timeoutMs = 30_000
): Promise<void> {
  const producer = new Producer({
    clientId: 'predecessor',
    bootstrapBrokers: s.brokers,
    idempotent: true,
    transactionalId,
    timeout: timeoutMs
  })
  t.teardown(() => producer.close(true))
  const open = await producer.beginTransaction()
  await open.addConsumer({ groupId: s.applicationId } as never)
  // The tests run one broker, which coordinates every group.
  const coordinatorId = [...(await producer.metadata({ topics: [] })).brokers.keys()][0]
  await open.addOffset({
    topic: s.topics.input,
    partition: 0,
    offset: 999n,
    metadata: { consumer: { groupId: s.applicationId, generationId: -1, memberId: '', coordinatorId } }
  } as never)
}

function stableOffsets(s: Setup): Promise<unknown> {
  return withAdmin(s.brokers, admin =>
    admin.listConsumerGroupOffsets({
      groups: [{ groupId: s.applicationId, topics: [{ name: s.topics.input, partitionIndexes: [0] }] }],
      requireStable: true
    } as never)
  )
}

async function oneUserInput(t: ExecutionContext): Promise<{ s: Setup; totals: Map<string, number> }> {
  const s = await setup(t, 1)
  const events = usageEvents(3000, 1)
  const producer = createProducer(s.brokers, 'test')
  t.teardown(() => producer.close())
  await produceUsage(producer, s.topics.input, events)
  return { s, totals: expectedTotals(events).totals }
}

test("a restarted instance aborts the transaction its killed predecessor left open, so the group's offsets read at once", async t => {
  const { s, totals } = await oneUserInput(t)
  const folder = join(s.stateDir, 'killed')
  await mkdir(join(folder, s.applicationId), { recursive: true })
  await writeFile(join(folder, s.applicationId, 'instance-id'), 'killed\n')
  await openTransactionWithOffsets(t, s, `${s.applicationId}-killed`)
  await t.throwsAsync(stableOffsets(s), undefined, "the predecessor's offsets are pending")

  const restarted = app(s, 'killed')
  t.teardown(() => restarted.stop())
  await restarted.start()
  await t.notThrowsAsync(stableOffsets(s), 'the restart aborted them before joining the group')
  const windows = await readWindows(s.brokers, s.topics.output, w => w.size >= totals.size, 60_000)
  t.deepEqual(lines([...windows].map(([id, values]) => [id, values[0]!])), lines(totals))
})

test("an instance waits out offsets that another dead instance's open transaction holds, until the broker aborts it", async t => {
  const { s, totals } = await oneUserInput(t)
  // Long enough to be still open when the instance reads the offsets, even on a loaded machine.
  await openTransactionWithOffsets(t, s, `${s.applicationId}-gone`, 15_000)
  await t.throwsAsync(stableOffsets(s), undefined, "the dead instance's offsets are pending")
  const warnings: string[] = []
  const instance = app(s, 'other', {
    log: (level, message) => {
      if (level === 'warn') warnings.push(message)
    }
  })
  t.teardown(() => instance.stop())
  await instance.start()
  const windows = await readWindows(s.brokers, s.topics.output, w => w.size >= totals.size, 90_000)
  t.deepEqual(lines([...windows].map(([id, values]) => [id, values[0]!])), lines(totals))
  t.true(
    warnings.some(w => w.includes('redoing from the last commit')),
    'the offset reads failed and were retried'
  )
})
