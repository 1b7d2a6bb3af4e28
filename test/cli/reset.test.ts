import test from 'ava'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { exitReason, waitFor } from '../helpers/wait.ts'
import { cleanUpAfter, kafkaBrokers, produceRecordFile, testTopics, uniqueName } from '../helpers/kafka.ts'
import { pipelineArgs, startStream, stopStream } from '../helpers/stream.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { truthFromFile } from '../../src/truth/from-file.ts'

test('reset refuses while an instance of the group runs, resetting nothing, and resets once it stopped', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: 2 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const group = uniqueName('reset')
  cleanUpAfter(t, [group, `${input}-`])
  const dir = await tempDir(t)
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }
  const file = join(dir, 'records.jsonl')
  const traffic = ['--seed', 'reset', '--from', '2021-02-19T20:00', '--to', '2021-02-19T20:20', '--rate', '1']
  t.is((await cellstream(['simulate', ...traffic, '--out', file, '--provision'], env)).code, 0)
  const records = await produceRecordFile(input!, file, 2)
  const windows = (await truthFromFile(file, { partitions: 2 })).bytes.length

  const stateDir = join(dir, 'state')
  const stream = startStream(
    t,
    pipelineArgs({ input: input!, metadata: metadata!, group, dir, stateDir, idleTimeout: 2 }),
    env
  )
  await waitFor(
    'the stream to write every window',
    async () =>
      (await db.one('SELECT count(*) AS n FROM bytes', [], row => Number(row.n))) >= windows ? true : undefined,
    { deadlineMs: 120_000, intervalMs: 500, failed: () => exitReason(stream.child) }
  )
  // What a reset would delete: the group's offsets (every record committed), its topics, its state.
  const committed = async (): Promise<bigint> =>
    withAdmin(brokers, async admin => {
      const [offsets] = await admin.listConsumerGroupOffsets({ groups: [group] })
      const partitions = offsets?.topics.find(entry => entry.name === input)?.partitions ?? []
      return partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n)
    })
  await waitFor(
    'the group to commit every input record',
    async () => ((await committed()) === BigInt(records) ? true : undefined),
    {
      deadlineMs: 60_000,
      failed: () => exitReason(stream.child)
    }
  )
  const topics = async (): Promise<string[]> =>
    (await withAdmin(brokers, admin => admin.listTopics())).filter(name => name.startsWith(`${group}-`)).sort()
  const before = await topics()
  t.true(before.length > 1, before.join(', '))
  const state = join(stateDir, group)
  await access(state)

  const refused = await cellstream(['reset', '--group', group, '--state-dir', stateDir], env)
  t.is(refused.code, 2)
  t.is(refused.stdout, '')
  t.is(refused.stderr, `cellstream: group ${group} has 1 running instance(s); stop them before resetting\n`)
  t.deepEqual(await topics(), before, 'no topic deleted')
  t.is(await committed(), BigInt(records), 'the offsets stay')
  await t.notThrowsAsync(access(state), 'the local state stays')
  t.is(stream.child.exitCode, null, 'the instance runs on')

  t.is(await stopStream(stream), 0, stream.log())
  const reset = await cellstream(['reset', '--group', group, '--state-dir', stateDir], env)
  t.is(reset.code, 0, reset.stderr)
  t.deepEqual(await topics(), [`${group}-alerts`], 'only the output topic is left')
  t.is(await committed(), 0n, 'no offsets left')
  await t.throwsAsync(access(state), { code: 'ENOENT' }, 'the local state is gone')
})
