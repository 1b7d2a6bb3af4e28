import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { DataError } from '../../src/lib/errors.ts'
import { decodeLine, encodeLine, readRecordFile } from '../../src/simulator/record-file.ts'
import { tempDir } from '../helpers/temp-dir.ts'

test('text payloads are lines verbatim; the others are base64 behind a marker', t => {
  const json = '{"bytes":1,"timestamp":1600545287,"app":"SKYPE","id":"x","antenna_id":"y"}'
  t.is(encodeLine(json), json)
  t.is(encodeLine('{"bytes":'), '{"bytes":')
  t.is(encodeLine(''), '')
  t.is(encodeLine(Buffer.from('ñandú')), 'ñandú')
  t.is(encodeLine(Buffer.from([0xff, 0x00, 0x41])), '#base64:/wBB')
  t.is(encodeLine('two\nlines'), `#base64:${Buffer.from('two\nlines').toString('base64')}`)
  // Text that looks like the marker is encoded too, so decoding never guesses.
  t.is(encodeLine('#base64:abc'), `#base64:${Buffer.from('#base64:abc').toString('base64')}`)
  for (const payload of [json, '', 'two\nlines', 'cr\r', '#base64:abc', Buffer.from([0xff, 0xfe, 0x0a, 0x00])]) {
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload)
    t.true(decodeLine(Buffer.from(encodeLine(payload))).equals(bytes))
  }
})

test('a record file is read line by line: empty lines are empty payloads, CRLF and a missing last newline are accepted', async t => {
  const path = join(await tempDir(t), 'records.jsonl')
  await writeFile(path, 'a\n\n#base64:/wBB\r\nlast')
  const payloads: Buffer[] = []
  for await (const payload of readRecordFile(path)) payloads.push(payload)
  t.deepEqual(
    payloads.map(p => p.toString('hex')),
    ['61', '', 'ff0041', Buffer.from('last').toString('hex')]
  )
})

test('a missing file is a DataError', async t => {
  const error = await t.throwsAsync(
    async () => {
      for await (const _ of readRecordFile('/nonexistent/records.jsonl')) {
        /* nothing */
      }
    },
    { instanceOf: DataError }
  )
  t.regex(error.message, /^cannot read \/nonexistent\/records\.jsonl: /)
})
