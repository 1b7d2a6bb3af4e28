import test from 'ava'
import { SessionWindows } from '../../src/topology/windows/session-windows.ts'

function described(windows: SessionWindows, times: number[]): string[] {
  return windows.assembly
    .windows(times)
    .map(({ start, end, from, to }) => `${start}..${end - 1}:${times.slice(from, to).join(',')}`)
}

// Sessions by the definition, brute force: two times are in one session when a chain of
// times at most `gap` apart links them.
function reference(times: number[], gap: number): string[] {
  const sessions: number[][] = []
  for (const t of times) {
    const linked = sessions.filter(s => s.some(x => Math.abs(x - t) <= gap))
    const merged = [...linked.flat(), t].sort((a, b) => a - b)
    for (const s of linked) sessions.splice(sessions.indexOf(s), 1)
    sessions.push(merged)
  }
  return sessions.sort((a, b) => a[0]! - b[0]!).map(s => `${s[0]}..${s.at(-1)}:${s.join(',')}`)
}

test('sessions: runs of records at most the gap apart, whatever the order they came in', t => {
  let seed = 11
  const random = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n
  for (let round = 0; round < 2000; round++) {
    const gap = 1 + random(10)
    const arrival = Array.from({ length: 1 + random(12) }, () => 1000 + random(80))
    const times = [...new Set(arrival)].sort((a, b) => a - b)
    t.deepEqual(
      described(SessionWindows.ofInactivityGapAndGrace(gap, 0), times),
      reference([...new Set(arrival)], gap),
      `gap=${gap} times=${times.join(',')}`
    )
  }
})

test("Kafka Streams' documented example: a record at 16 merges the sessions [10, 12] and [20, 20] (gap 5)", t => {
  const windows = SessionWindows.ofInactivityGapAndGrace(5, 0)
  t.deepEqual(described(windows, [10, 12, 20]), ['10..12:10,12', '20..20:20'])
  t.deepEqual(described(windows, [10, 12, 16, 20]), ['10..20:10,12,16,20'])
})

test('a session closes when the watermark passes its last record by the gap and the grace', t => {
  const windows = SessionWindows.ofInactivityGapAndGrace(5_000, 1_000)
  t.is(windows.kind, 'session')
  const sessions = windows.assembly.windows([10_000, 12_000, 30_000])
  t.like(sessions[0], { start: 10_000, end: 12_001, closesAt: 18_001, affectedFrom: 0 })
  // A record is late once no session it could join may still be open.
  t.deepEqual(windows.assembly.lateness(12_000), { at: 13_001, start: 12_000 })
  // The points of a session go once it has closed for good.
  t.is(windows.assembly.forgettable([10_000, 12_000, 30_000], sessions, 18_001), 2)
  t.is(windows.assembly.forgettable([10_000, 12_000, 30_000], sessions, 18_000), 0)
})

test('bad gaps and graces are refused', t => {
  t.throws(() => SessionWindows.ofInactivityGapAndGrace(0, 0), { message: /inactivity gap must be/ })
  t.throws(() => SessionWindows.ofInactivityGapAndGrace(1000, -1), { message: /grace must be/ })
})
