import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProducer } from '../../src/kafka/clients.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { sleep } from '../../src/lib/processes.ts'
import { expectedTotals, produceUsage, usageEvents } from './usage-data.ts'
import { lines, readWindows, setup, type Setup } from './helpers.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/usage-instance.ts', import.meta.url))

function launch (s: Setup, instance: string): ChildProcess {
  const config = { brokers: s.brokers, topics: s.topics, applicationId: s.applicationId, stateDir: join(s.stateDir, instance) }
  return spawn(process.execPath, [FIXTURE], { env: { ...process.env, CELLSTREAM_TEST_APP: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] })
}

async function started (child: ChildProcess): Promise<void> {
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
  t.teardown(() => { for (const child of children.values()) child.kill('SIGKILL') })
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
  t.deepEqual([...windows].filter(([, values]) => values.length > 1), [], 'no window emitted twice')
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
  const committed = offsets[0]!.topics.find(topic => topic.name === s.topics.input)!.partitions.map(p => p.committedOffset).sort()
  t.deepEqual(committed, [1000n, 1000n, 1000n], 'every input record is committed')
  const groups = await withAdmin(s.brokers, admin => admin.describeGroups({ groups: [s.applicationId] }))
  t.is(groups.get(s.applicationId)?.members.size, 0, 'the instance left the group')
})
