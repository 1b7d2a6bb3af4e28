import test, { type ExecutionContext } from 'ava'
import { decodeEvent, decodeEventGeneric } from '../../src/traffic/event-codec.ts'

// The traffic event decoder has a fast path without JSON.parse; every input must get
// the result (value or rejection) the general decoder gives.
const reference =
  '{"bytes":9082,"timestamp":1600545287,"app":"SKYPE","id":"00000000-0000-0000-0000-000000000001","antenna_id":"00000000-0000-0000-0000-000000000000"}'

/** Both decoders give the same event, or the same rejection. */
function assertSameDecoding(t: ExecutionContext, text: string): void {
  const bytes = Buffer.from(text)
  let expected: unknown
  let actual: unknown
  try {
    expected = decodeEventGeneric(bytes)
  } catch (error) {
    expected = String(error)
  }
  try {
    actual = decodeEvent(bytes)
  } catch (error) {
    actual = String(error)
  }
  t.deepEqual(actual, expected, text)
}

test('the fast path agrees with JSON.parse on near-miss forms', t => {
  const variants = [
    reference,
    ` \t\r\n${reference} \n`,
    reference.replace('{', '{ ').replaceAll(':', ' : ').replaceAll(',', ' ,\n'),
    reference.replace('9082', '0'),
    reference.replace('9082', '00'),
    reference.replace('9082', '-0'),
    reference.replace('9082', '9082e0'),
    reference.replace('9082', '999999999999999'),
    reference.replace('9082', '9999999999999999'),
    reference.replace('1600545287', '1600545287.0'),
    reference.replace('"bytes":9082,', '"bytes":1,"bytes":9082,'),
    reference.replace('"bytes":9082,', '"bytes":9082,"bytes":"x",'),
    reference.replace('"app":', '"extra":"x","more":12,"app":'),
    reference.replace('"app":', '"extra":null,"app":'),
    reference.replace('"app":', '"extra":{"a":[1,"}"]},"app":'),
    reference.replace('"app":', '"extra":true,"app":'),
    reference.replace('"app":', '"ap\\u0070":"X","app":'),
    reference.replace('SKYPE', 'SKY\\"PE'),
    reference.replace('SKYPE', 'SKY\tPE'),
    reference.replace('SKYPE', 'Tél'),
    reference.replace('"SKYPE"', '12'),
    reference.replace('9082', '"9082"'),
    reference.replace('}', ',}'),
    reference.replace('}', '}}'),
    reference.replace('}', '} x'),
    reference.replace(',"app"', '"app"'),
    reference.replace('"app":', '"app" '),
    reference.slice(0, -1),
    reference.replace('{', '['),
    '{}',
    '{"bytes":1}',
    reference.replace('"antenna_id"', '"antenna_iD"'),
    reference.replace('"id"', '"Id"'),
    '\ufeff' + reference,
    reference.replace('SKYPE', 'X'.repeat(64)),
    reference.replace('SKYPE', 'X'.repeat(65)),
    reference.replace('SKYPE', 'SKY\\u0000PE'),
    reference.replace('SKYPE', 'SKY\u007fPE'),
    reference.replace('SKYPE', 'SKY\\ud800PE'),
    reference.replace('9082', '1e400'),
    reference.replace('1600545287', '-1e400')
  ]
  for (const text of variants) assertSameDecoding(t, text)
  // Repeated values come back equal whether or not they were seen before.
  const other = reference.replace('000000000001', '000000000002')
  t.is(decodeEvent(Buffer.from(other)).id, '00000000-0000-0000-0000-000000000002')
  t.is(decodeEvent(Buffer.from(reference)).id, '00000000-0000-0000-0000-000000000001')
})

test('the fast path agrees with JSON.parse on near-miss ids, alone and with other rules broken', t => {
  const good = '00000000-0000-0000-0000-000000000001'
  const ids = [
    good,
    good.toUpperCase().replace('0001', 'ABCD'),
    good.replace('0001', 'AbCd'),
    good.replace('0001', 'abcd'),
    good.slice(0, -1),
    good + '0',
    good + 'g',
    good.replace('0001', '000g'),
    good.replace('0001', '000G'),
    good.replace('0001', '000-'),
    good.replace('-', '0').replace('00000000', '0000000-'),
    good.replaceAll('-', ''),
    good.replace('-0000-0000-', '-00000000-'),
    good.replace('0001', '00\\u0031'),
    good.replace('0001', '00"1'),
    good.replace('0001', '00 1'),
    ''
  ]
  const breakers = [
    (text: string) => text,
    (text: string) => text.replace('9082', '1000000001'),
    (text: string) => text.replace('1600545287', '946684799'),
    (text: string) => text.replace('SKYPE', ''),
    (text: string) => text.replace(/"}$/, ''),
    // A 36-character id whose closing quote is something else.
    (text: string) => text.replace(/("id":"[^"]{36})"/, '$1x'),
    (text: string) => text.replace(/("antenna_id":"[^"]{36})"/, '$1 ')
  ]
  let checked = 0
  for (const id of ids) {
    for (const field of ['id', 'antenna_id']) {
      for (const breaker of breakers) {
        assertSameDecoding(
          t,
          breaker(
            reference.replace(
              `"${field}":"${field === 'id' ? good : '00000000-0000-0000-0000-000000000000'}"`,
              `"${field}":"${id}"`
            )
          )
        )
        checked++
      }
    }
  }
  t.is(checked, ids.length * 2 * breakers.length)
})
