import test from 'ava'
import { TimeWindows } from '../../src/topology/time-windows.ts'

// The reference in BigInt arithmetic, where division is exact: the largest multiple of the
// size at or below the timestamp.
function referenceStart (timestamp: number, size: number): number {
  const t = BigInt(timestamp)
  const s = BigInt(size)
  const remainder = ((t % s) + s) % s
  return Number(t - remainder)
}

test('a window starts at the largest multiple of its size at or below the timestamp, for any safe integer', t => {
  const sizes = [1, 7, 1000, 60_000, 300_000, 3_600_000, 86_400_000, 2 ** 40 + 3]
  const timestamps = [0, 1, -1, 299_999, 300_000, 300_001, -300_000, -300_001, 1_613_768_400_000, 1_613_768_699_999,
    2 ** 52 - 1, 2 ** 52, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53 - 300_001]
  let seed = 42
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
  for (let i = 0; i < 20_000; i++) {
    // Magnitudes up to 2^53, the range between 2^52 and 2^53 included.
    const magnitude = Math.min(2 ** Math.floor(random() * 54), Number.MAX_SAFE_INTEGER)
    timestamps.push(Math.floor((random() * 2 - 1) * magnitude))
  }
  for (const size of sizes) {
    const windows = TimeWindows.ofSizeAndGrace(size, 0)
    for (const timestamp of timestamps) {
      const start = windows.startOf(timestamp)
      if (start !== referenceStart(timestamp, size)) t.fail(`size ${size}, timestamp ${timestamp}: ${start}, expected ${referenceStart(timestamp, size)}`)
    }
  }
  t.pass()
})
