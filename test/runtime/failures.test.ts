import test from 'ava'
import { Failures, isBug } from '../../src/runtime/failures.ts'
import { UnavailableError } from '../../src/lib/errors.ts'

test('waits double from the first delay up to the cap, each between half and all of it', t => {
  const policy = { initialDelayMs: 500, maxDelayMs: 30_000, giveUpAfterMs: undefined }
  const low = new Failures(policy, () => 0)
  const high = new Failures(policy, () => 0.999999)
  const lows = Array.from({ length: 10 }, (_, i) => low.failed('commit', new Error('x'), i))
  const highs = Array.from({ length: 10 }, (_, i) => high.failed('commit', new Error('x'), i))
  t.deepEqual(lows, [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000])
  t.deepEqual(highs, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000])
})

test('a success ends the outage; failing says since when and what', t => {
  const failures = new Failures(undefined, () => 0)
  t.is(failures.since, undefined)
  failures.failed('commit', new Error('ECONNREFUSED'), 1000)
  failures.failed('processing', new Error('broker down'), 5000)
  t.is(failures.since, 1000)
  t.is(failures.last, 'processing: broker down')
  failures.succeeded()
  t.is(failures.since, undefined)
  t.is(failures.failed('commit', new Error('again'), 9000), 250, 'the back-off starts over')
})

test('gives up after the limit, never without one', t => {
  const limited = new Failures({ initialDelayMs: 500, maxDelayMs: 30_000, giveUpAfterMs: 60_000 }, () => 0)
  limited.failed('commit', new Error('down'), 0)
  t.notThrows(() => limited.failed('commit', new Error('down'), 59_999))
  const error = t.throws(() => limited.failed('commit', new Error('down'), 60_000), { instanceOf: UnavailableError })
  t.is(error?.message, 'stopped after 60 s of failures (--give-up-after): commit: down')
  const patient = new Failures(undefined, () => 0)
  patient.failed('commit', new Error('down'), 0)
  t.notThrows(() => patient.failed('commit', new Error('down'), 365 * 86_400_000))
})

test('bugs are not outages', t => {
  t.true(isBug(new TypeError('x is undefined')))
  t.false(isBug(new UnavailableError('broker down')))
  t.false(isBug(Object.assign(new Error('relation "bytes" does not exist'), { code: '42P01' })))
})
