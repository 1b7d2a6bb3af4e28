import test from 'ava'
import { TimeWindows } from '../../src/topology/windows/time-windows.ts'
import { closesAt } from '../../src/topology/windows/windows.ts'

// The reference in BigInt arithmetic, where division is exact: the largest multiple of the
// size at or below the timestamp.
function referenceStart(timestamp: number, size: number): number {
  const t = BigInt(timestamp)
  const s = BigInt(size)
  const remainder = ((t % s) + s) % s
  return Number(t - remainder)
}

function timestamps(): number[] {
  const list = [
    0,
    1,
    -1,
    299_999,
    300_000,
    300_001,
    -300_000,
    -300_001,
    1_613_768_400_000,
    1_613_768_699_999,
    2 ** 52 - 1,
    2 ** 52,
    2 ** 52 + 1,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 53 - 300_001
  ]
  let seed = 42
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
  for (let i = 0; i < 20_000; i++) {
    // Magnitudes up to 2^53, the range between 2^52 and 2^53 included.
    const magnitude = Math.min(2 ** Math.floor(random() * 54), Number.MAX_SAFE_INTEGER)
    list.push(Math.floor((random() * 2 - 1) * magnitude))
  }
  return list
}

test('a tumbling window starts at the largest multiple of its size at or below the timestamp, for any safe integer', t => {
  const out: number[] = []
  const all = timestamps()
  for (const size of [1, 7, 1000, 60_000, 300_000, 3_600_000, 86_400_000, 2 ** 40 + 3]) {
    const windows = TimeWindows.ofSizeAndGrace(size, 0)
    for (const timestamp of all) {
      const count = windows.startsOf(timestamp, out)
      if (count !== 1 || out[0] !== referenceStart(timestamp, size))
        t.fail(
          `size ${size}, timestamp ${timestamp}: ${out.slice(0, count).join(',')}, expected ${referenceStart(timestamp, size)}`
        )
    }
  }
  t.pass()
})

test('hopping windows: a record is in every window whose [start, start + size) holds it, newest first', t => {
  const out: number[] = []
  for (const [size, advance] of [
    [600_000, 300_000],
    [3_600_000, 300_000],
    [10, 3],
    [7, 7],
    [1000, 1]
  ]) {
    const windows = TimeWindows.ofSizeAndGrace(size!, 60_000).advanceBy(advance!)
    for (const timestamp of [0, 1, -1, 299_999, 300_000, 1_613_768_699_999, 2 ** 52 + 1]) {
      const expected: number[] = []
      const last = referenceStart(timestamp, advance!)
      for (let start = last; start > timestamp - size!; start -= advance!) expected.push(start)
      const count = windows.startsOf(timestamp, out)
      t.deepEqual(out.slice(0, count), expected, `size ${size}, advance ${advance}, timestamp ${timestamp}`)
      t.true(expected.every(start => start <= timestamp && timestamp < windows.endOf(start)))
    }
  }
})

test('a window closes at its end plus grace; the last closed start follows the watermark', t => {
  const hopping = TimeWindows.ofSizeAndGrace(600_000, 60_000).advanceBy(300_000)
  t.is(hopping.endOf(300_000), 900_000)
  t.is(closesAt(hopping, 300_000), 960_000)
  t.is(hopping.lastClosedStart(960_000), 300_000)
  t.is(hopping.lastClosedStart(959_999), 299_999)
  t.is(hopping.kind, 'hopping')
  t.is(TimeWindows.ofSizeAndGrace(1000, 0).kind, 'tumbling')
})

test('bad sizes, advances and graces are refused', t => {
  t.throws(() => TimeWindows.ofSizeAndGrace(0, 0), { message: /size must be a positive/ })
  t.throws(() => TimeWindows.ofSizeAndGrace(1000, -1), { message: /grace must be/ })
  t.throws(() => TimeWindows.ofSizeAndGrace(1000, 0).advanceBy(1001), {
    message: /advance must be a whole number of ms from 1 to the size/
  })
  t.throws(() => TimeWindows.ofSizeAndGrace(1000, 0).advanceBy(0.5), { message: /advance/ })
})
