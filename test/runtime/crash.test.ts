import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Producer } from '@platformatic/kafka'
import { createProducer } from '../../src/kafka/clients.ts'
import { leafMessage, withAdmin } from '../../src/kafka/admin.ts'
import { expectedTotals, produceUsage, usageEvents, type UsageEvent } from '../helpers/usage-data.ts'
import { sleep } from '../../src/lib/processes.ts'
import { app, emitted, lines, readAllWindows, setup, waitForWindows, type Setup } from '../helpers/sample-app.ts'
import { collect, waitFor, waitForExit } from '../helpers/wait.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/usage-instance.ts', import.meta.url))
const UNSTABLE = 'There are unstable offsets that need to be cleared.'

/** An instance of the sample application in a process of its own, and what it printed. */
interface Instance {
  name: string
  child: ChildProcess
  stdout: () => string
  /** Its log. */
  stderr: () => string
}

function launch(s: Setup, name: string, idleTimeoutMs?: number): Instance {
  const config = {
    brokers: s.brokers,
    topics: s.topics,
    applicationId: s.applicationId,
    stateDir: join(s.stateDir, name),
    idleTimeoutMs
  }
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, CELLSTREAM_TEST_APP: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  return { name, child, stdout: collect(child.stdout!), stderr: collect(child.stderr!) }
}

/** Commits the instance reported since it started (the fixture prints a line after each). */
function commits(instance: Instance): number {
  return instance
    .stdout()
    .split('\n')
    .filter(line => line.startsWith('committed ')).length
}

async function started(instance: Instance): Promise<void> {
  await waitFor(`instance ${instance.name} to start`, () => instance.stdout().includes('started\n'), {
    deadlineMs: 120_000,
    children: [instance.child]
  })
}

/** Stops an instance with SIGTERM (a last commit, then it leaves the group); returns its exit code. */
async function stop(instance: Instance): Promise<number | null> {
  instance.child.kill('SIGTERM')
  return waitForExit(`instance ${instance.name} to exit after SIGTERM`, instance.child, 60_000)
}

/** Times the instance was assigned partitions (it logs each rebalance it went through). */
function assignments(instance: Instance): number {
  return instance
    .stderr()
    .split('\n')
    .filter(line => line.startsWith('info assigned ')).length
}

/**
 * Stops the instances one after the other, each once the others went through the rebalance the
 * previous one caused, and asserts that each exits 0.
 */
async function stopAll(t: ExecutionContext, instances: Instance[]): Promise<void> {
  for (const [i, instance] of instances.entries()) {
    const others = instances.slice(i + 1)
    const before = others.map(assignments)
    const code = await stop(instance)
    t.is(code, 0, `instance ${instance.name} stopped cleanly; its log ends:\n${instance.stderr().slice(-3000)}`)
    for (const [j, other] of others.entries())
      await waitFor(
        `instance ${other.name} to rebalance after ${instance.name} left`,
        () => assignments(other) > before[j]!,
        {
          deadlineMs: 120_000,
          children: [other.child]
        }
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

/** Sends `events` in small slices at a steady pace, so that no partition falls quiet meanwhile. */
async function produceSteadily(
  producer: ReturnType<typeof createProducer>,
  topic: string,
  events: UsageEvent[]
): Promise<void> {
  for (let i = 0; i < events.length; i += 120) {
    await produceUsage(producer, topic, events.slice(i, i + 120))
    await sleep(150)
  }
}

test('kill -9 of random instances during the run loses nothing and counts nothing twice', async t => {
  const s = await setup(t, 6)
  const events = usageEvents(60_000, 6)
  const { totals } = expectedTotals(events)
  const producer = createProducer(s.brokers, 'test')
  t.teardown(() => producer.close())
  await produceUsage(producer, s.topics.input, events.slice(0, 30_000))
  // The rest arrives steadily while instances are killed and restarted. An idle partition
  // closes its windows early and a later record re-emits them corrected; the long idle timeout
  // keeps that from happening mid-run, so that each window is emitted once, final.
  let producing = true
  const production = produceSteadily(producer, s.topics.input, events.slice(30_000)).finally(() => {
    producing = false
  })
  production.catch(() => {})

  const names = ['a', 'b', 'c']
  const idleTimeoutMs = 10_000
  const instances = new Map(names.map(name => [name, launch(s, name, idleTimeoutMs)]))
  t.teardown(() => {
    for (const instance of instances.values()) instance.child.kill('SIGKILL')
  })
  await Promise.all([...instances.values()].map(started))

  // Each victim is killed once it has committed since it started: the kill lands mid-work.
  const rounds = victims(names)
  t.log(`victims in order: ${rounds.join(', ')}`)
  let landed = 0
  let whileInputArrived = 0
  for (const [round, name] of rounds.entries()) {
    const victim = instances.get(name)!
    await waitFor(`instance ${name} to commit in round ${round}`, () => commits(victim) > 0, {
      deadlineMs: 120_000,
      children: [victim.child]
    })
    if (producing) whileInputArrived++
    victim.child.kill('SIGKILL')
    await waitForExit(`instance ${name} to die of SIGKILL`, victim.child, 30_000)
    if (victim.child.signalCode === 'SIGKILL' && commits(victim) > 0) landed++
    const restarted = launch(s, name, idleTimeoutMs)
    instances.set(name, restarted)
    await started(restarted)
  }
  await production
  t.log(`${landed} kills landed after a commit of their victim, ${whileInputArrived} while input still arrived`)
  t.is(landed, rounds.length, 'every kill landed on an instance that had committed since it started')
  t.true(whileInputArrived > 0, 'a kill landed while input still arrived')

  // Once every window is out, the instances stop with a last commit; the output is then read
  // to its end, so a window emitted twice at any time shows.
  await waitForWindows(s, totals.size, 240_000)
  await stopAll(t, [...instances.values()])
  const { lines: output, duplicates } = emitted(await readAllWindows(s.brokers, s.topics.output))
  t.deepEqual(duplicates, [], 'no window emitted twice')
  t.deepEqual(output, lines(totals))
})

test('SIGTERM commits, leaves the group and exits 0', async t => {
  const s = await setup(t, 3)
  const events = usageEvents(3000, 3)
  const producer = createProducer(s.brokers, 'test')
  await produceUsage(producer, s.topics.input, events)
  await producer.close()
  const instance = launch(s, 'solo')
  t.teardown(() => instance.child.kill('SIGKILL'))
  await started(instance)
  const { totals } = expectedTotals(events)
  await waitForWindows(s, totals.size, 120_000)
  await stopAll(t, [instance])
  const offsets = await withAdmin(s.brokers, admin => admin.listConsumerGroupOffsets({ groups: [s.applicationId] }))
  const committed = offsets[0]!.topics
    .find(topic => topic.name === s.topics.input)!
    .partitions.map(p => p.committedOffset)
    .sort()
  t.deepEqual(committed, [1000n, 1000n, 1000n], 'every input record is committed')
  const groups = await withAdmin(s.brokers, admin => admin.describeGroups({ groups: [s.applicationId] }))
  t.is(groups.get(s.applicationId)?.members.size, 0, 'the instance left the group')
  const { lines: output, duplicates } = emitted(await readAllWindows(s.brokers, s.topics.output))
  t.deepEqual(duplicates, [], 'no window emitted twice')
  t.deepEqual(output, lines(totals))
})

/**
 * A transaction that holds offsets of the group, neither committed nor aborted: what an
 * instance killed in the middle of a commit leaves. Its transaction times out after `timeoutMs`.
 */
async function openTransactionWithOffsets(
  t: ExecutionContext,
  s: Setup,
  transactionalId: string,
  timeoutMs: number
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

/** The group's offsets of partition 0, read only when no open transaction holds them. */
async function stableOffsets(s: Setup): Promise<void> {
  try {
    await withAdmin(s.brokers, admin =>
      admin.listConsumerGroupOffsets({
        groups: [{ groupId: s.applicationId, topics: [{ name: s.topics.input, partitionIndexes: [0] }] }],
        requireStable: true
      } as never)
    )
  } catch (error) {
    // The client nests the broker's answer in layers of retries.
    throw new Error(leafMessage(error), { cause: error })
  }
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
  // Far longer than the test: only the restart can end this transaction.
  await openTransactionWithOffsets(t, s, `${s.applicationId}-killed`, 600_000)
  await t.throwsAsync(stableOffsets(s), { message: UNSTABLE }, "the predecessor's offsets are pending")

  const restarted = app(s, 'killed')
  t.teardown(() => restarted.stop())
  await restarted.start()
  await t.notThrowsAsync(stableOffsets(s), 'the restart aborted them before joining the group')
  await waitForWindows(s, totals.size, 60_000)
  await restarted.stop()
  const { lines: output, duplicates } = emitted(await readAllWindows(s.brokers, s.topics.output))
  t.deepEqual(duplicates, [], 'no window emitted twice')
  t.deepEqual(output, lines(totals))
})

test("an instance waits out offsets that another dead instance's open transaction holds, until the broker aborts it", async t => {
  const { s, totals } = await oneUserInput(t)
  // The instance must meet the transaction still open: it times out long after the instance
  // has started, even on a loaded machine. The broker answers "unstable offsets" only while it
  // is open, so the warning awaited below proves the instance met it.
  await openTransactionWithOffsets(t, s, `${s.applicationId}-gone`, 60_000)
  await t.throwsAsync(stableOffsets(s), { message: UNSTABLE }, "the dead instance's offsets are pending")
  const warnings: string[] = []
  const instance = app(s, 'other', {
    log: (level, message) => {
      if (level === 'warn') warnings.push(message)
    }
  })
  t.teardown(() => instance.stop())
  await instance.start()
  await waitFor(
    'the instance to find the offsets pending and retry',
    () => warnings.some(w => w.includes('redoing from the last commit') && w.includes(UNSTABLE)),
    { deadlineMs: 30_000 }
  )
  await waitForWindows(s, totals.size, 180_000)
  await instance.stop()
  const { lines: output, duplicates } = emitted(await readAllWindows(s.brokers, s.topics.output))
  t.deepEqual(duplicates, [], 'no window emitted twice')
  t.deepEqual(output, lines(totals))
})
