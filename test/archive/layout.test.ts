import test from 'ava'
import {
  compactedFileName,
  hourDir,
  hourLabel,
  hourStart,
  isDataFile,
  parseHourDir,
  parseLinkTarget,
  parsePartFileName,
  parseVersionEntry,
  partFileName,
  tempName,
  linkTarget
} from '../../src/archive/layout.ts'

const HOUR = Date.parse('2021-02-19T21:00:00Z') / 1000

test('hour folders follow event time in UTC', t => {
  t.is(hourDir('/a', HOUR), '/a/year=2021/month=02/day=19/hour=21')
  t.is(hourStart(HOUR), HOUR)
  t.is(hourStart(HOUR + 3599), HOUR)
  t.is(hourStart(HOUR + 3600), HOUR + 3600)
  // Before 1970 too, and against Date's own UTC hours.
  for (const seconds of [-1, -3600, -3601, 0, 1, HOUR - 1, 4_102_444_799, 4_102_444_800]) {
    t.is(hourStart(seconds), Math.floor(new Date(seconds * 1000).setUTCMinutes(0, 0, 0) / 1000), String(seconds))
  }
  t.is(hourLabel(HOUR), '2021-02-19T21')
})

test('an hour folder parses back to its hour', t => {
  t.is(parseHourDir('/a/year=2021/month=02/day=19/hour=21'), HOUR)
  t.is(parseHourDir('year=2021/month=02/day=19/hour=21/'), HOUR)
  t.is(parseHourDir('/a/year=2021/month=13/day=19/hour=21'), undefined)
  t.is(parseHourDir('/a/year=2021/month=02/day=19'), undefined)
})

test('file names carry the Kafka coordinates and parse back', t => {
  const name = partFileName('devices.v2', 3, 100n, 250n)
  t.is(name, 'part-devices.v2-3-100-250.parquet')
  t.deepEqual(parsePartFileName(name), { topic: 'devices.v2', partition: 3, firstOffset: 100n, lastOffset: 250n })
  t.throws(() => partFileName('a/b', 0, 0n, 0n))
  t.true(isDataFile(name))
  t.true(isDataFile(compactedFileName(HOUR)))
})

test('temp names are hidden from readers and unique', t => {
  const a = tempName('part-devices-0-1-2.parquet')
  t.false(isDataFile(a))
  t.true(a.startsWith('.') && a.endsWith('.tmp'))
  t.not(a, tempName('part-devices-0-1-2.parquet'))
})

test('version entries and links parse', t => {
  t.deepEqual(parseVersionEntry('2021-02-19T21.3'), { hour: HOUR, version: 3, kind: 'version' })
  t.deepEqual(parseVersionEntry('2021-02-19T21.4.new'), { hour: HOUR, version: 4, kind: 'building' })
  t.deepEqual(parseVersionEntry('2021-02-19T21.3.inputs.json'), { hour: HOUR, version: 3, kind: 'manifest' })
  t.is(parseVersionEntry('.link-3.1-ab.tmp'), undefined)
  t.is(parseLinkTarget(linkTarget(HOUR, 7)), 7)
})
