import test from 'ava'
import { decodeEvent, EventRejected } from '../../src/traffic/event-codec.ts'
import { validateEvent } from '../../src/truth/validate.ts'
import { BAD_KINDS, badRecord, toJson } from '../../src/simulator/bad-records.ts'
import { Random } from '../../src/simulator/random.ts'

const NOW = 1_800_000_000
const reference = '{"bytes":9082,"timestamp":1600545287,"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}'

test('the reference line decodes to its fields', t => {
  t.deepEqual(decodeEvent(Buffer.from(reference), NOW), {
    bytes: 9082, timestamp: 1600545287, app: 'SKYPE', id: '00000000-0000-0000-0000-000000000001', antenna_id: '00000000-0000-0000-0000-000000000000'
  })
})

test('any JSON producer\'s form (whitespace, field order, escapes, extra fields) decodes the same', t => {
  const expected = decodeEvent(Buffer.from(reference), NOW)
  for (const text of [
    '{ "antenna_id": "00000000-0000-0000-0000-000000000000", "id": "00000000-0000-0000-0000-000000000001",\n "app": "SKYPE", "timestamp": 1600545287, "bytes": 9082 }',
    '{"bytes":9082,"timestamp":1600545287,"app":"SKYP\\u0045","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}',
    '{"bytes":9082.0,"timestamp":1600545287,"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000","extra":[1]}'
  ]) t.deepEqual(decodeEvent(Buffer.from(text), NOW), expected, text)
  t.is(decodeEvent(Buffer.from(reference.replace('SKYPE', 'Tél')), NOW).app, 'Tél')
})

test('each rule rejects with its reason', t => {
  const cases: Array<[string, EventRejected["reason"]]> = [
    ['', 'empty'],
    ['{"bytes":', 'not-json'],
    ['[1,2]', 'not-object'],
    [reference.replace('"bytes":9082,', ''), 'missing-field'],
    [reference.replace('9082', '"9082"'), 'wrong-type'],
    [reference.replace('9082', '1.5'), 'wrong-type'],
    [reference.replace('9082', '-1'), 'bytes-out-of-range'],
    [reference.replace('9082', '1000000001'), 'bytes-out-of-range'],
    [reference.replace('SKYPE', ''), 'empty-app'],
    [reference.replace('00000000-0000-0000-0000-000000000001', 'user-1'), 'not-uuid'],
    [reference.replace('1600545287', '946684799'), 'timestamp-out-of-range'],
    [reference.replace('1600545287', String(NOW + 86_401)), 'timestamp-out-of-range'],
    [reference.replace('9082', '09082'), 'not-json']
  ]
  for (const [text, reason] of cases) {
    const error = t.throws(() => decodeEvent(Buffer.from(text), NOW), { instanceOf: EventRejected }, text)
    t.is(error?.reason, reason, text)
  }
  t.notThrows(() => decodeEvent(Buffer.from(reference.replace('1600545287', String(NOW + 86_400))), NOW))
  t.notThrows(() => decodeEvent(Buffer.from(reference.replace('9082', '1000000000')), NOW))
})

test('agrees with the ground truth\'s independent validator on every kind of bad record', t => {
  const random = new Random('codec')
  let checked = 0
  for (let round = 0; round < 200; round++) {
    const event = { bytes: random.int(10_000), timestamp: 1600545287 + round, app: 'WHATSAPP', id: '00000000-0000-0000-0000-000000000007', antenna_id: '22222222-2222-2222-2222-222222222222' }
    for (const kind of BAD_KINDS) {
      const payload = badRecord(kind, event, random)
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
      const truth = validateEvent(bytes, NOW)
      let ours: string
      try {
        decodeEvent(bytes, NOW)
        ours = 'valid'
      } catch (error) {
        ours = (error as EventRejected).reason
      }
      t.is(ours === 'valid', truth.ok, `${kind}: ${bytes.toString('utf8').slice(0, 80)}`)
      checked++
    }
    t.true(validateEvent(Buffer.from(toJson(event)), NOW).ok)
    t.deepEqual(decodeEvent(Buffer.from(toJson(event)), NOW), event)
  }
  t.true(checked > 1000)
})
