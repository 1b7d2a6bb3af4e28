import test from 'ava'
import { validateEvent } from '../../src/truth/validate.ts'

const NOW = Date.parse('2026-11-28T00:00:00Z') / 1000
const SENT = { recordSeconds: NOW }
const ID = '00000000-0000-0000-0000-000000000001'
const ANTENNA = '11111111-1111-1111-1111-111111111111'
const event = (fields: Record<string, unknown>): string =>
  JSON.stringify({ bytes: 9082, timestamp: 1600545287, app: 'SKYPE', id: ID, antenna_id: ANTENNA, ...fields })

test('the reference line is valid', t => {
  const line =
    '{"bytes":9082,"timestamp":1600545287,"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}'
  t.deepEqual(validateEvent(Buffer.from(line), SENT), {
    ok: true,
    event: {
      bytes: 9082,
      timestamp: 1600545287,
      app: 'SKYPE',
      id: ID,
      antenna_id: '00000000-0000-0000-0000-000000000000'
    }
  })
})

test('valid edge cases: limits, unknown apps, extra fields, uppercase UUIDs, integral floats', t => {
  for (const payload of [
    event({ bytes: 0 }),
    event({ bytes: 1_000_000_000 }),
    event({ timestamp: 946_684_800 }),
    event({ timestamp: NOW + 300 }),
    event({ app: 'X'.repeat(64) }),
    event({ app: '😀'.repeat(64) }),
    event({ app: 'TIKTOK' }),
    event({ extra: [1, 2] }),
    event({ id: ID.toUpperCase().replaceAll('0', 'A') }),
    '{"bytes":1.0,"timestamp":1.6e9,"app":"SKYPE","id":"' + ID + '","antenna_id":"' + ANTENNA + '"}'
  ]) {
    t.true(validateEvent(payload, SENT).ok, payload)
  }
})

test('each rule names its reason', t => {
  const cases: Array<[string | Buffer, string]> = [
    ['', 'empty'],
    [Buffer.from([0x7b, 0xff, 0x7d]), 'not-utf8'],
    ['{"bytes":9082,"timest', 'not-json'],
    ['bytes=1', 'not-json'],
    ['[1,2]', 'not-object'],
    ['null', 'not-object'],
    ['"text"', 'not-object'],
    [event({ app: undefined }), 'missing-field'],
    [event({ bytes: '9082' }), 'wrong-type'],
    [event({ bytes: 1.5 }), 'wrong-type'],
    [event({ timestamp: '2020-09-19T19:54:47Z' }), 'wrong-type'],
    [event({ app: 42 }), 'wrong-type'],
    [event({ id: null }), 'wrong-type'],
    [event({ bytes: -1 }), 'bytes-out-of-range'],
    [event({ bytes: 1_000_000_001 }), 'bytes-out-of-range'],
    [event({ app: '' }), 'empty-app'],
    [event({ app: 'X'.repeat(65) }), 'app-too-long'],
    [event({ app: 'SKY\u0000PE' }), 'app-control-character'],
    [event({ app: 'SKY\u009fPE' }), 'app-control-character'],
    [event({ app: 'SKY\ud800PE' }), 'not-utf8'],
    [event({}).replace('9082', '1e400'), 'bytes-out-of-range'],
    [event({ id: 'user-1' }), 'not-uuid'],
    [event({ antenna_id: ANTENNA.replaceAll('-', '') }), 'not-uuid'],
    [event({ id: `${ID}0` }), 'not-uuid'],
    [event({ timestamp: 946_684_799 }), 'timestamp-too-old'],
    [event({ timestamp: NOW + 301 }), 'timestamp-in-future'],
    [event({ timestamp: 1600545287000 }), 'timestamp-in-future']
  ]
  for (const [payload, reason] of cases) {
    const result = validateEvent(payload, SENT)
    t.is(result.ok ? 'valid' : result.reason, reason, String(payload))
  }
})

test('upper-case UUIDs count in lower case', t => {
  const result = validateEvent(event({ id: ID.toUpperCase().replaceAll('0', 'A') }), SENT)
  t.true(result.ok && result.event.id === ID.replaceAll('0', 'a'))
})

test("the future rule is measured from the record's Kafka timestamp, with a configurable limit", t => {
  t.true(
    validateEvent(event({ timestamp: 1600545287 + 3600 }), { recordSeconds: 1600545287, maxFutureSeconds: 3600 }).ok
  )
  t.false(
    validateEvent(event({ timestamp: 1600545287 + 3601 }), { recordSeconds: 1600545287, maxFutureSeconds: 3600 }).ok
  )
})
