import { readFile } from 'node:fs/promises'
import test from 'ava'
import { BAD_KINDS, type BadKind } from '../../src/simulator/bad-records.ts'
import { readRecordFile } from '../../src/simulator/record-file.ts'
import { type InvalidReason, validateEvent } from '../../src/truth/validate.ts'
import { simulateToFile } from '../helpers/simulate-file.ts'

// The rule each kind must break, as the validator names it.
const REASON: Record<BadKind, InvalidReason> = {
  'truncated-json': 'not-json',
  'not-json': 'not-json',
  'not-object': 'not-object',
  'wrong-type': 'wrong-type',
  'missing-field': 'missing-field',
  'negative-bytes': 'bytes-out-of-range',
  'huge-bytes': 'bytes-out-of-range',
  'empty-app': 'empty-app',
  'long-app': 'app-too-long',
  'control-app': 'app-control-character',
  'not-utf8-app': 'not-utf8',
  'bad-id': 'not-uuid',
  'old-timestamp': 'timestamp-too-old',
  'future-timestamp': 'timestamp-in-future',
  'empty-payload': 'empty',
  'binary-payload': 'not-utf8'
}

const RECORDS = 20_000
const RATIO = 0.2

test('bad records of every kind appear at the requested ratio, each listed and each invalid for its reason', async t => {
  const { path, badLog, result } = await simulateToFile(
    t,
    { seed: 'bad', users: 200, rate: 10, badRatio: RATIO },
    { events: RECORDS }
  )
  t.is(result.records, RECORDS)
  const listed = new Map<number, BadKind>()
  for (const line of (await readFile(badLog, 'utf8')).trim().split('\n')) {
    const { index, kind } = JSON.parse(line) as { index: number; kind: BadKind }
    listed.set(index, kind)
  }
  t.is(listed.size, result.bad)

  // Each record is bad with probability RATIO, of a kind drawn uniformly: the counts are
  // binomial, and five standard deviations make a false alarm practically impossible.
  const tolerance = (p: number): number => 5 * Math.sqrt(RECORDS * p * (1 - p))
  t.true(Math.abs(result.bad - RECORDS * RATIO) < tolerance(RATIO), `${result.bad} bad records`)
  const perKind = RATIO / BAD_KINDS.length
  for (const kind of BAD_KINDS) {
    const count = [...listed.values()].filter(k => k === kind).length
    t.true(Math.abs(count - RECORDS * perKind) < tolerance(perKind), `${kind}: ${count}`)
    t.is(result.badByKind[kind], count)
  }

  const now = Math.floor(Date.now() / 1000)
  let index = 0
  for await (const payload of readRecordFile(path)) {
    const validation = validateEvent(payload, { recordSeconds: now })
    const kind = listed.get(index)
    if (kind === undefined) {
      if (!validation.ok)
        t.fail(`record ${index} is not listed as bad but is ${validation.reason}: ${payload.toString()}`)
    } else if (validation.ok || validation.reason !== REASON[kind]) {
      t.fail(
        `record ${index} (${kind}) should be ${REASON[kind]}, is ${validation.ok ? 'valid' : validation.reason}: ${payload.toString('hex')}`
      )
    }
    index++
  }
  t.is(index, RECORDS)
})

test('without --bad-ratio every record is valid', async t => {
  const { path } = await simulateToFile(t, { seed: 'good' }, { events: 5000 })
  const now = Math.floor(Date.now() / 1000)
  let valid = 0
  for await (const payload of readRecordFile(path)) if (validateEvent(payload, { recordSeconds: now }).ok) valid++
  t.is(valid, 5000)
  t.is(await readFile(path.replace('.jsonl', '.bad.jsonl'), 'utf8'), '')
})
