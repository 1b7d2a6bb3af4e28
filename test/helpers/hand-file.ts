// A small record file and its truth, worked out by hand (grace 60 s, the 20 reference users).
// T0 = 1600545600 = 2020-09-19T20:00:00Z. Users: andres (01, quota 200000), juan (03, 100000),
// fede (04, quota 5000). Antennas: A0 = 00000000-…, A1 = 11111111-….
import { type TruthResult } from '../../src/truth/ground-truth.ts'

const U1 = '00000000-0000-0000-0000-000000000001'
const U3 = '00000000-0000-0000-0000-000000000003'
const U4 = '00000000-0000-0000-0000-000000000004'
const STRANGER = '99999999-9999-9999-9999-999999999999'
const A0 = '00000000-0000-0000-0000-000000000000'
const A1 = '11111111-1111-1111-1111-111111111111'

export const HAND_FILE =
  [
    `{"bytes":1000,"timestamp":1600545610,"app":"SKYPE","id":"${U1}","antenna_id":"${A0}"}`, // 20:00:10
    `{"bytes":3000,"timestamp":1600545670,"app":"WHATSAPP","id":"${U4}","antenna_id":"${A0}"}`, // 20:01:10
    `{"bytes":1950,"timestamp":1600545899,"app":"WHATSAPP","id":"${U4}","antenna_id":"${A1}"}`, // 20:04:59
    `{"bytes":400,"timestamp":1600545900,"app":"TELEGRAM","id":"${U1}","antenna_id":"${A1}"}`, // 20:05:00
    '', // empty payload: invalid
    `{"bytes":-5,"timestamp":1600545905,"app":"SKYPE","id":"${U1}","antenna_id":"${A1}"}`, // invalid
    '{"bytes":12,"timest', // truncated: invalid
    `{"bytes":700,"timestamp":1600545930,"app":"SKYPE","id":"${U3}","antenna_id":"${A1}"}`, // 20:05:30, stream time T0+330
    `{"bytes":50,"timestamp":1600545850,"app":"SKYPE","id":"${U3}","antenna_id":"${A0}"}`, // 20:04:10: 20:05 + 60 s > 20:05:30, on time
    `{"bytes":9000,"timestamp":1600546020,"app":"FACETIME","id":"${U1}","antenna_id":"${A0}"}`, // 20:07:00, stream time T0+420
    `{"bytes":80,"timestamp":1600545700,"app":"WHATSAPP","id":"${U4}","antenna_id":"${A0}"}`, // 20:01:40: 20:06 ≤ 20:07, LATE
    `{"bytes":200,"timestamp":1600549205,"app":"NEWAPP","id":"${U1}","antenna_id":"${A1}","extra":"ignored"}`, // 21:00:05
    `{"bytes":6000,"timestamp":1600549300,"app":"FACEBOOK","id":"${STRANGER}","antenna_id":"${A1}"}`, // 21:01:40, no metadata
    `{"bytes":"5","timestamp":1600549310,"app":"SKYPE","id":"${U1}","antenna_id":"${A1}"}`, // invalid
    `{"bytes":5000,"timestamp":1600549500,"app":"SKYPE","id":"${U4}","antenna_id":"${A0}"}` // 21:05:00
  ].join('\n') + '\n'

const W2000 = '2020-09-19T20:00:00Z'
const W2005 = '2020-09-19T20:05:00Z'
const W2100 = '2020-09-19T21:00:00Z'
const W2105 = '2020-09-19T21:05:00Z'

export const HAND_TRUTH: TruthResult = {
  bytes: [
    // 20:00 window: 1000, 3000, 1950 and the on-time 50; not the late 80.
    { timestamp: W2000, id: A0, value: 4050, type: 'antenna_total_bytes' },
    { timestamp: W2000, id: A1, value: 1950, type: 'antenna_total_bytes' },
    { timestamp: W2000, id: 'SKYPE', value: 1050, type: 'app_total_bytes' },
    { timestamp: W2000, id: 'WHATSAPP', value: 4950, type: 'app_total_bytes' },
    { timestamp: W2000, id: U1, value: 1000, type: 'user_total_bytes' },
    { timestamp: W2000, id: U3, value: 50, type: 'user_total_bytes' },
    { timestamp: W2000, id: U4, value: 4950, type: 'user_total_bytes' },
    // 20:05 window: 400, 700, 9000.
    { timestamp: W2005, id: A0, value: 9000, type: 'antenna_total_bytes' },
    { timestamp: W2005, id: A1, value: 1100, type: 'antenna_total_bytes' },
    { timestamp: W2005, id: 'FACETIME', value: 9000, type: 'app_total_bytes' },
    { timestamp: W2005, id: 'SKYPE', value: 700, type: 'app_total_bytes' },
    { timestamp: W2005, id: 'TELEGRAM', value: 400, type: 'app_total_bytes' },
    { timestamp: W2005, id: U1, value: 9400, type: 'user_total_bytes' },
    { timestamp: W2005, id: U3, value: 700, type: 'user_total_bytes' },
    // 21:00 window: 200 (unknown app), 6000 (unknown user).
    { timestamp: W2100, id: A1, value: 6200, type: 'antenna_total_bytes' },
    { timestamp: W2100, id: 'FACEBOOK', value: 6000, type: 'app_total_bytes' },
    { timestamp: W2100, id: 'NEWAPP', value: 200, type: 'app_total_bytes' },
    { timestamp: W2100, id: U1, value: 200, type: 'user_total_bytes' },
    { timestamp: W2100, id: STRANGER, value: 6000, type: 'user_total_bytes' },
    // 21:05 window: 5000.
    { timestamp: W2105, id: A0, value: 5000, type: 'antenna_total_bytes' },
    { timestamp: W2105, id: 'SKYPE', value: 5000, type: 'app_total_bytes' },
    { timestamp: W2105, id: U4, value: 5000, type: 'user_total_bytes' }
  ],
  bytesHourly: [
    // 20:00 hour: every valid event of the hour, the late 80 included.
    { timestamp: W2000, id: A0, value: 13130, type: 'antenna_total_bytes' },
    { timestamp: W2000, id: A1, value: 3050, type: 'antenna_total_bytes' },
    { timestamp: W2000, id: 'FACETIME', value: 9000, type: 'app_total_bytes' },
    { timestamp: W2000, id: 'SKYPE', value: 1750, type: 'app_total_bytes' },
    { timestamp: W2000, id: 'TELEGRAM', value: 400, type: 'app_total_bytes' },
    { timestamp: W2000, id: 'WHATSAPP', value: 5030, type: 'app_total_bytes' },
    { timestamp: W2000, id: U1, value: 10400, type: 'user_total_bytes' },
    { timestamp: W2000, id: U3, value: 750, type: 'user_total_bytes' },
    { timestamp: W2000, id: U4, value: 5030, type: 'user_total_bytes' },
    { timestamp: W2100, id: A0, value: 5000, type: 'antenna_total_bytes' },
    { timestamp: W2100, id: A1, value: 6200, type: 'antenna_total_bytes' },
    { timestamp: W2100, id: 'FACEBOOK', value: 6000, type: 'app_total_bytes' },
    { timestamp: W2100, id: 'NEWAPP', value: 200, type: 'app_total_bytes' },
    { timestamp: W2100, id: 'SKYPE', value: 5000, type: 'app_total_bytes' },
    { timestamp: W2100, id: U1, value: 200, type: 'user_total_bytes' },
    { timestamp: W2100, id: U4, value: 5000, type: 'user_total_bytes' },
    { timestamp: W2100, id: STRANGER, value: 6000, type: 'user_total_bytes' }
  ],
  // fede: 3000 + 1950 = 4950 on time, over 5000 only with the late 80. At 21:00 exactly 5000:
  // not over (strictly greater). The stranger has no quota.
  userQuotaLimit: [{ email: 'fede@gmail.com', usage: 5030, quota: 5000, timestamp: W2000 }],
  // Live alerts leave out only events late for their hour: the 80 is late for its 5-minute
  // window but not for the 20:00 hour (21:00 + 60 s is after 20:07), so fede alerts too.
  quotaAlerts: [{ email: 'fede@gmail.com', usage: 5030, quota: 5000, timestamp: W2000 }],
  summary: {
    records: 15,
    valid: 11,
    invalid: 4,
    late: 1,
    invalidByReason: { empty: 1, 'bytes-out-of-range': 1, 'not-json': 1, 'wrong-type': 1 }
  }
}
