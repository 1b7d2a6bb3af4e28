import { readFile } from 'node:fs/promises'
import test from 'ava'
import { DAY, simulateToFile } from '../helpers/simulate-file.ts'

test('the same seed and options give byte-identical files', async t => {
  const options = { seed: 'same', users: 50, antennas: 8, badRatio: 0.05, lateRatio: 0.01 }
  const a = await simulateToFile(t, options, { events: 20_000 })
  const b = await simulateToFile(t, options, { events: 20_000 })
  const [fileA, fileB] = await Promise.all([readFile(a.path), readFile(b.path)])
  t.is(a.result.records, 20_000)
  t.true(fileA.length > 1_000_000)
  t.true(fileA.equals(fileB))
  t.true((await readFile(a.badLog)).equals(await readFile(b.badLog)))
})

test('another seed gives other records', async t => {
  const a = await simulateToFile(t, { seed: 'one' }, { events: 500 })
  const b = await simulateToFile(t, { seed: 'two' }, { events: 500 })
  t.false((await readFile(a.path)).equals(await readFile(b.path)))
})

test('stopping at --events gives the start of the longer run', async t => {
  // The records of a period do not depend on where the run stops.
  const whole = await simulateToFile(t, { seed: 'split' }, { from: DAY, to: DAY + 7200 })
  const part = await simulateToFile(t, { seed: 'split' }, { from: DAY, to: DAY + 7200, events: 100 })
  const wholeLines = (await readFile(whole.path, 'utf8')).split('\n')
  const partLines = (await readFile(part.path, 'utf8')).split('\n')
  t.deepEqual(partLines.slice(0, 100), wholeLines.slice(0, 100))
})

test('a paced replay (--speed) sends exactly the records of the backfill of the same period', async t => {
  const backfill = await simulateToFile(t, { seed: 'paced', rate: 5 }, { from: DAY, to: DAY + 600 })
  const paced = await simulateToFile(t, { seed: 'paced', rate: 5 }, { from: DAY, to: DAY + 600, speed: 6000 })
  t.true((await readFile(paced.path)).equals(await readFile(backfill.path)))
  t.is(paced.result.records, backfill.result.records)
})
