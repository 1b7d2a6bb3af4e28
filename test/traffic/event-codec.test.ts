import test from 'ava'
import { checkEventTime, decodeEvent, EventRejected, type TrafficEvent } from '../../src/traffic/event-codec.ts'
import { validateEvent } from '../../src/truth/validate.ts'
import { BAD_KINDS, badRecord, toJson } from '../../src/simulator/bad-records.ts'
import { Random } from '../../src/simulator/random.ts'

/** The Kafka timestamp every record here was sent with, epoch ms. */
const SENT = 1_800_000_000_000
const reference =
  '{"bytes":9082,"timestamp":1600545287,"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}'

/** What the stream decides for a record: its event, or the reason code of its rejection. */
function decide(payload: Buffer, sentMs = SENT): TrafficEvent | string {
  try {
    const event = decodeEvent(payload)
    checkEventTime(event, sentMs, 300)
    return event
  } catch (error) {
    if (!(error instanceof EventRejected)) throw error
    return error.reason
  }
}

/** What the ground truth's independent validator decides for the same record. */
function truth(payload: Buffer, sentMs = SENT): TrafficEvent | string {
  const result = validateEvent(payload, { recordSeconds: Math.floor(sentMs / 1000) })
  return result.ok ? result.event : result.reason
}

test('the reference line decodes to its fields', t => {
  t.deepEqual(decide(Buffer.from(reference)), {
    bytes: 9082,
    timestamp: 1600545287,
    app: 'SKYPE',
    id: '00000000-0000-0000-0000-000000000001',
    antenna_id: '00000000-0000-0000-0000-000000000000'
  })
})

test("any JSON producer's form (whitespace, field order, escapes, extra fields) decodes the same", t => {
  const expected = decide(Buffer.from(reference))
  for (const text of [
    '{ "antenna_id": "00000000-0000-0000-0000-000000000000", "id": "00000000-0000-0000-0000-000000000001",\n "app": "SKYPE", "timestamp": 1600545287, "bytes": 9082 }',
    '{"bytes":9082,"timestamp":1600545287,"app":"SKYP\\u0045","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}',
    '{"bytes":9082.0,"timestamp":1600545287,"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000","extra":[1]}'
  ])
    t.deepEqual(decide(Buffer.from(text)), expected, text)
  t.is((decide(Buffer.from(reference.replace('SKYPE', 'Tél'))) as TrafficEvent).app, 'Tél')
})

test('UUIDs in either case are one key, in lower case, on both decoding paths', t => {
  const upper = reference
    .replace('00000000-0000-0000-0000-000000000001', '0000ABCD-0000-0000-0000-00000000000F')
    .replace('00000000-0000-0000-0000-000000000000', 'AAAAAAAA-0000-0000-0000-00000000000B')
  for (const text of [upper, upper.replace('SKYPE', 'SKY\\u0050E')]) {
    const event = decide(Buffer.from(text)) as TrafficEvent
    t.is(event.id, '0000abcd-0000-0000-0000-00000000000f', text)
    t.is(event.antenna_id, 'aaaaaaaa-0000-0000-0000-00000000000b', text)
  }
  // Seen lower-case first, then upper-case: the decoder's string cache must not mix them up.
  t.is((decide(Buffer.from(reference)) as TrafficEvent).id, '00000000-0000-0000-0000-000000000001')
  t.is(
    (decide(Buffer.from(reference.replace('000000000001', '00000000000A'))) as TrafficEvent).id,
    '00000000-0000-0000-0000-00000000000a'
  )
})

test('each rule rejects with its reason', t => {
  const cases: Array<[string | Buffer, EventRejected['reason']]> = [
    ['', 'empty'],
    [Buffer.from([0x7b, 0xff, 0x7d]), 'not-utf8'],
    [
      Buffer.concat([Buffer.from(reference.slice(0, 60)), Buffer.from([0xc3, 0x28]), Buffer.from(reference.slice(60))]),
      'not-utf8'
    ],
    ['{"bytes":', 'not-json'],
    ['[1,2]', 'not-object'],
    [reference.replace('"bytes":9082,', ''), 'missing-field'],
    [reference.replace('9082', '"9082"'), 'wrong-type'],
    [reference.replace('9082', '1.5'), 'wrong-type'],
    [reference.replace('9082', '-1'), 'bytes-out-of-range'],
    [reference.replace('9082', '1000000001'), 'bytes-out-of-range'],
    [reference.replace('9082', '1e400'), 'bytes-out-of-range'],
    [reference.replace('SKYPE', ''), 'empty-app'],
    [reference.replace('SKYPE', 'X'.repeat(65)), 'app-too-long'],
    [reference.replace('SKYPE', 'é'.repeat(65)), 'app-too-long'],
    [reference.replace('SKYPE', 'X'.repeat(3000)), 'app-too-long'],
    [reference.replace('SKYPE', 'SKY\\u0000PE'), 'app-control-character'],
    [reference.replace('SKYPE', 'SKY\u0085PE'), 'app-control-character'],
    [reference.replace('SKYPE', 'SKY\\ud800PE'), 'not-utf8'],
    [reference.replace('00000000-0000-0000-0000-000000000001', 'user-1'), 'not-uuid'],
    [reference.replace('1600545287', '946684799'), 'timestamp-too-old'],
    [reference.replace('1600545287', String(SENT / 1000 + 301)), 'timestamp-in-future'],
    [reference.replace('1600545287', String(SENT / 1000 + 23 * 3600)), 'timestamp-in-future'],
    [reference.replace('1600545287', '1e400'), 'timestamp-in-future'],
    [reference.replace('9082', '09082'), 'not-json']
  ]
  for (const [text, reason] of cases) {
    const payload = typeof text === 'string' ? Buffer.from(text) : text
    t.is(decide(payload), reason, payload.toString().slice(0, 100))
  }
  t.is(typeof decide(Buffer.from(reference.replace('1600545287', String(SENT / 1000 + 300)))), 'object')
  t.is(typeof decide(Buffer.from(reference.replace('9082', '1000000000'))), 'object')
  t.is(
    typeof decide(Buffer.from(reference.replace('SKYPE', '😀'.repeat(64)))),
    'object',
    '64 characters, 128 UTF-16 units'
  )
})

test("the future is measured from the record's own Kafka timestamp, not the clock", t => {
  const event = reference.replace('1600545287', '1600545600')
  t.is(decide(Buffer.from(event), 1600545287_000), 'timestamp-in-future', 'sent 313 s before its event time')
  t.is(typeof decide(Buffer.from(event), 1600545300_000), 'object', 'sent 300 s before its event time')
})

test('reasons are precise: 1e400 is a bytes problem, a binary payload is not UTF-8', t => {
  const error = t.throws(() => decodeEvent(Buffer.from(reference.replace('9082', '1e400'))), {
    instanceOf: EventRejected
  })
  t.is(error?.message, 'bytes-out-of-range: bytes must be between 0 and 1000000000, got Infinity')
  t.is(
    t.throws(() => decodeEvent(Buffer.from([0x00, 0xff, 0x10, 0x80])), { instanceOf: EventRejected })?.reason,
    'not-utf8'
  )
  t.regex(
    t.throws(() => decodeEvent(Buffer.from(reference.replace('SKYPE', 'SKY\\u0000PE'))))?.message ?? '',
    /U\+0000 at character 4/
  )
})

// Records that stalled or corrupted the pipeline, and hostile shapes: both validators must reach
// the same decision, reason and event for each.
const hostile: Array<string | Buffer> = [
  reference.replace('SKYPE', 'SKY\\u0000PE'),
  reference.replace('SKYPE', 'A'.repeat(3000)),
  reference.replace('SKYPE', 'A'.repeat(1_000_000)),
  Buffer.concat([Buffer.from(reference.slice(0, 62)), Buffer.from([0xff]), Buffer.from(reference.slice(62))]),
  reference.replace('00000000-0000-0000-0000-000000000001', 'ABCDEF00-0000-0000-0000-000000000001'),
  reference.replace('1600545287', String(SENT / 1000 + 23 * 3600)),
  reference.replace('9082', '1e400'),
  reference.replace('9082', '9007199254740993'),
  reference.replace('9082', '-0'),
  reference.replace('"bytes":9082', '"__proto__":{"bytes":1},"bytes":9082'),
  reference.replace('"bytes":9082', '"constructor":{"prototype":null},"bytes":9082'),
  '{"__proto__":' + reference + '}',
  '['.repeat(100_000) + ']'.repeat(100_000),
  reference.replace('"app":"SKYPE"', `"deep":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)},"app":"SKYPE"`),
  reference.replace('SKYPE', 'SKY\\ud83dPE'),
  reference.replace('SKYPE', 'SKY\\ud83d\\ude00PE'),
  reference.replace('SKYPE', 'SKY\u00a0PE'),
  Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from(reference)]),
  Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256))
]

test("agrees with the ground truth's independent validator on hostile records", t => {
  for (const payload of hostile) {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
    t.deepEqual(decide(bytes), truth(bytes), bytes.subarray(0, 100).toString())
  }
})

test("agrees with the ground truth's independent validator on every kind of bad record", t => {
  const random = new Random('codec')
  let checked = 0
  for (let round = 0; round < 200; round++) {
    const event = {
      bytes: random.int(10_000),
      timestamp: 1600545287 + round,
      app: 'WHATSAPP',
      id: '00000000-0000-0000-0000-000000000007',
      antenna_id: '22222222-2222-2222-2222-222222222222'
    }
    for (const kind of BAD_KINDS) {
      const payload = badRecord(kind, event, random)
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
      const ours = decide(bytes)
      t.is(typeof ours, 'string', `${kind} is rejected: ${bytes.toString('utf8').slice(0, 80)}`)
      t.is(ours, truth(bytes), `${kind}: ${bytes.toString('utf8').slice(0, 80)}`)
      checked++
    }
    t.deepEqual(decide(Buffer.from(toJson(event))), event)
    t.deepEqual(truth(Buffer.from(toJson(event))), event)
  }
  t.true(checked > 1000)
})
