import test from 'ava'
import { SlidingWindows } from '../../src/topology/windows/sliding-windows.ts'

// The windows of a set of times by the definition, brute force: for each time t, [t - d, t]
// and, when it holds a time, [t + 1, t + d + 1]; as "start..lastInclusive:times in it".
function reference(times: number[], d: number): string[] {
  const windows = new Map<number, string>()
  for (const t of times) {
    for (const start of [Math.max(0, t - d), t + 1]) {
      const inside = times.filter(x => x >= start && x <= start + d)
      if (inside.length > 0) windows.set(start, `${start}..${start + d}:${inside.join(',')}`)
    }
  }
  return [...windows.keys()].sort((a, b) => a - b).map(start => windows.get(start)!)
}

function described(windows: SlidingWindows, times: number[]): string[] {
  return windows.assembly
    .windows(times)
    .map(({ start, end, from, to }) => `${start}..${end - 1}:${times.slice(from, to).join(',')}`)
}

test('sliding windows: one ending at each record, one starting after it when it holds records, each once', t => {
  let seed = 7
  const random = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n
  for (let round = 0; round < 2000; round++) {
    const d = random(20)
    const times = [...new Set(Array.from({ length: 1 + random(12) }, () => 1000 + random(80)))].sort((a, b) => a - b)
    const windows = SlidingWindows.ofTimeDifferenceAndGrace(d, 0)
    t.deepEqual(described(windows, times), reference(times, d), `d=${d} times=${times.join(',')}`)
  }
})

test("Kafka Streams' documented example: records at 8000, 9200 and 12400 with d = 5000 make five windows", t => {
  const windows = SlidingWindows.ofTimeDifferenceAndGrace(5000, 0)
  t.deepEqual(described(windows, [8000, 9200, 12400]), [
    '3000..8000:8000',
    '4200..9200:8000,9200',
    '7400..12400:8000,9200,12400',
    '8001..13001:9200,12400',
    '9201..14201:12400'
  ])
})

test('a sliding window [start, start + d] closes when the watermark passes its last millisecond by the grace', t => {
  const windows = SlidingWindows.ofTimeDifferenceAndGrace(10_000, 2_000)
  t.is(windows.kind, 'sliding')
  const [window] = windows.assembly.windows([15_000])
  t.like(window, { start: 5_000, end: 15_001, closesAt: 17_001 })
  // A record is late once the window ending at it has closed in its partition.
  t.deepEqual(windows.assembly.lateness(15_000), { at: 17_001, start: 5_000 })
  // The window after a point is changed by it: a change to the point re-emits it too.
  const after = windows.assembly.windows([15_000, 20_000]).find(w => w.start === 15_001)
  t.like(after, { from: 1, to: 2, affectedFrom: 0 })
  // A point is needed until the window after it has closed for good.
  t.is(windows.assembly.forgettable([15_000, 20_000], [], 27_002), 1)
  t.is(windows.assembly.forgettable([15_000, 20_000], [], 27_001), 0)
})

test('records of the first d ms share the window [0, d], as in Kafka Streams', t => {
  const windows = SlidingWindows.ofTimeDifferenceAndGrace(100, 0)
  t.deepEqual(windows.assembly.lateness(30), { at: 101, start: 0 })
  t.deepEqual(described(windows, [30, 60, 150]), ['0..100:30,60', '31..131:60', '50..150:60,150', '61..161:150'])
})

test('bad time differences and graces are refused', t => {
  t.throws(() => SlidingWindows.ofTimeDifferenceAndGrace(-1, 0), { message: /time difference must be/ })
  t.throws(() => SlidingWindows.ofTimeDifferenceAndGrace(0.5, 0), { message: /time difference must be/ })
  t.throws(() => SlidingWindows.ofTimeDifferenceAndGrace(1000, -1), { message: /grace must be/ })
})
