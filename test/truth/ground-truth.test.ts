import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { makeUsers } from '../../src/simulator/population.ts'
import { GroundTruth } from '../../src/truth/ground-truth.ts'
import { truthFromFile } from '../../src/truth/from-file.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { HAND_FILE, HAND_TRUTH } from '../helpers/hand-file.ts'

test('the truth of a hand-written file equals the totals computed by hand', async t => {
  const path = join(await tempDir(t), 'hand.jsonl')
  await writeFile(path, HAND_FILE)
  const result = await truthFromFile(path, {
    graceSeconds: 60,
    users: makeUsers(20),
    recordSeconds: Date.parse('2026-11-28T00:00:00Z') / 1000
  })
  t.deepEqual(result, HAND_TRUTH)
})

test("lateness is decided per partition, by that partition's own stream time", t => {
  const line = (timestamp: number): string =>
    `{"bytes":10,"timestamp":${timestamp},"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}`
  const t0 = 1600545600 // 2020-09-19T20:00:00Z
  const truth = new GroundTruth({ graceSeconds: 60 })
  truth.add(line(t0 + 420), 0) // partition 0 is at 20:07:00
  truth.add(line(t0 + 100), 1) // partition 1 has seen nothing: on time
  truth.add(line(t0 + 100), 0) // 20:05:00 + 60 s ≤ 20:07:00 in partition 0: late
  truth.add(line(t0 + 250), 0) // still late: the rule depends on the window, not the record
  const result = truth.result()
  t.is(result.summary.late, 2)
  t.deepEqual(
    result.bytes.filter(r => r.type === 'user_total_bytes'),
    [
      {
        timestamp: '2020-09-19T20:00:00Z',
        id: '00000000-0000-0000-0000-000000000001',
        value: 10,
        type: 'user_total_bytes'
      },
      {
        timestamp: '2020-09-19T20:05:00Z',
        id: '00000000-0000-0000-0000-000000000001',
        value: 10,
        type: 'user_total_bytes'
      }
    ]
  )
  t.deepEqual(
    result.bytesHourly.filter(r => r.type === 'user_total_bytes').map(r => r.value),
    [40]
  )
})

test('a window stays open until exactly end + grace', t => {
  const line = (timestamp: number): string =>
    `{"bytes":1,"timestamp":${timestamp},"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}`
  const t0 = 1600545600
  const open = new GroundTruth({ graceSeconds: 30 })
  open.add(line(t0 + 329))
  open.add(line(t0)) // window [t0, t0+300) + 30 s = t0+330 > t0+329: on time
  t.is(open.result().summary.late, 0)
  const closed = new GroundTruth({ graceSeconds: 30 })
  closed.add(line(t0 + 330))
  closed.add(line(t0)) // t0+330 ≤ t0+330: late
  t.is(closed.result().summary.late, 1)
})

test('with partitions, record n of a file is in partition n % P, like simulate spreads null keys', async t => {
  const line = (timestamp: number): string =>
    `{"bytes":1,"timestamp":${timestamp},"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}`
  const t0 = 1600545600
  const path = join(await tempDir(t), 'spread.jsonl')
  // Records 0 and 2 are in partition 0, record 1 in partition 1.
  await writeFile(path, [line(t0 + 420), line(t0 + 100), line(t0 + 100)].join('\n') + '\n')
  t.is((await truthFromFile(path, { partitions: 1 })).summary.late, 2)
  t.is((await truthFromFile(path, { partitions: 2 })).summary.late, 1)
  t.is((await truthFromFile(path, { partitions: 3 })).summary.late, 0)
})
