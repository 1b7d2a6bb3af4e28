import test from 'ava'
import { SlidingWindows } from '../../src/topology/windows/sliding-windows.ts'
import { closesAt } from '../../src/topology/windows/windows.ts'

// The windows of a set of times by the definition, brute force: for each time t, [t - d, t]
// and, when it holds a time, [t + 1, t + d + 1]; as "start..lastInclusive:times in it".
function reference(times: number[], d: number, bound: number): string[] {
  const windows = new Map<number, string>()
  for (const t of times) {
    for (const start of [Math.max(0, t - d), t + 1]) {
      const inside = times.filter(x => x >= start && x <= start + d)
      if (inside.length > 0 && start <= bound) windows.set(start, `${start}..${start + d}:${inside.join(',')}`)
    }
  }
  return [...windows.keys()].sort((a, b) => a - b).map(start => windows.get(start)!)
}

test('sliding windows: one ending at each record, one starting after it when it holds records, each once', t => {
  let seed = 7
  const random = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n
  for (let round = 0; round < 2000; round++) {
    const d = random(20)
    const times = [...new Set(Array.from({ length: 1 + random(12) }, () => 1000 + random(80)))].sort((a, b) => a - b)
    const bound = round % 2 === 0 ? Number.MAX_SAFE_INTEGER : 990 + random(100)
    const windows = SlidingWindows.ofTimeDifferenceAndGrace(d, 0)
    const got = windows.assembly
      .windows(times, bound)
      .map(({ start, from, to }) => `${start}..${windows.endOf(start) - 1}:${times.slice(from, to).join(',')}`)
    t.deepEqual(got, reference(times, d, bound), `d=${d} times=${times.join(',')} bound=${bound}`)
  }
})

test("Kafka Streams' documented example: records at 8000, 9200 and 12400 with d = 5000 make five windows", t => {
  const windows = SlidingWindows.ofTimeDifferenceAndGrace(5000, 0)
  const times = [8000, 9200, 12400]
  t.deepEqual(
    windows.assembly
      .windows(times, Number.MAX_SAFE_INTEGER)
      .map(({ start, from, to }) => `[${start};${windows.endOf(start) - 1}] ${times.slice(from, to).join(',')}`),
    [
      '[3000;8000] 8000',
      '[4200;9200] 8000,9200',
      '[7400;12400] 8000,9200,12400',
      '[8001;13001] 9200,12400',
      '[9201;14201] 12400'
    ]
  )
})

test('a sliding window [start, start + d] closes when the watermark passes its last millisecond by the grace', t => {
  const windows = SlidingWindows.ofTimeDifferenceAndGrace(10_000, 2_000)
  t.is(windows.kind, 'sliding')
  t.is(windows.endOf(5_000), 15_001)
  t.is(closesAt(windows, 5_000), 17_001)
  t.is(windows.lastClosedStart(17_001), 5_000)
  t.is(windows.lastClosedStart(17_000), 4_999)
  // A point is in the windows starting from t - d to t and makes the one starting at t + 1.
  t.deepEqual(windows.assembly.reach(50_000), { first: 40_000, last: 50_001 })
})

test('records of the first d ms share the window [0, d], as in Kafka Streams', t => {
  const windows = SlidingWindows.ofTimeDifferenceAndGrace(100, 0)
  t.deepEqual(windows.assembly.reach(30), { first: 0, last: 31 })
  t.deepEqual(windows.assembly.windows([30, 60, 150], Number.MAX_SAFE_INTEGER), [
    { start: 0, from: 0, to: 2 },
    { start: 31, from: 1, to: 2 },
    { start: 50, from: 1, to: 3 },
    { start: 61, from: 2, to: 3 }
  ])
})

test('bad time differences and graces are refused', t => {
  t.throws(() => SlidingWindows.ofTimeDifferenceAndGrace(-1, 0), { message: /time difference must be/ })
  t.throws(() => SlidingWindows.ofTimeDifferenceAndGrace(0.5, 0), { message: /time difference must be/ })
  t.throws(() => SlidingWindows.ofTimeDifferenceAndGrace(1000, -1), { message: /grace must be/ })
})
