import test from 'ava'
import { GroupMember } from '../../src/kafka/group.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'

// The client reports a rejoin that failed as an 'error' event: without a listener that event
// ends the process (an instance stopped during a rebalance exited 1 this way).
test('a failed rejoin reported by the client is kept as a lost membership, not a crash, and the next rejoin restores it', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'group', partitions: 2 }])
  const groupId = uniqueName('group-lost')
  cleanUpAfter(t, [groupId])
  const member = new GroupMember(brokers, 'test', groupId)
  t.teardown(() => member.close())
  let changes = 0
  await member.join([topic!], () => {
    changes++
  })
  t.deepEqual(
    member
      .assigned()
      .map(p => p.partition)
      .sort(),
    [0, 1]
  )
  const before = changes

  const failure = new Error('joinGroup failed 3 times.')
  t.notThrows(() => member.consumer.emit('error', failure))
  t.is(member.lost, failure)
  t.is(changes, before + 1, 'the runtime is told to rebuild')

  await member.rejoinIfLost()
  t.is(member.lost, undefined)
  t.deepEqual(
    member
      .assigned()
      .map(p => p.partition)
      .sort(),
    [0, 1]
  )
  await member.rejoinIfLost() // nothing lost: nothing to do
  t.is(member.lost, undefined)
})
