// The pipeline in one line, for logs and the demo: what goes in and out, what waits, what came
// out of it.
import type { Snapshot } from './snapshot.ts'

export function statusLine(snapshot: Snapshot): string {
  const p = snapshot.pipeline
  const deadLetters = p.deadLetters.reduce((sum, d) => sum + d.count, 0)
  const parts = [
    `events/s in ${rate(p.eventsIn)} out ${rate(p.eventsOut)}`,
    `lag ${count(p.lag)}`,
    `windows written ${count(p.windowsWritten)}`,
    `dead letters ${count(deadLetters)}`,
    `late ${count(p.late)}`,
    `alerts ${count(p.alerts)}`
  ]
  if (snapshot.problems.length > 0)
    parts.push(
      `${snapshot.problems.length} source${snapshot.problems.length === 1 ? '' : 's'} failing: ${snapshot.problems[0]}`
    )
  return parts.join(' · ')
}

function rate(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(1)
}

function count(value: number | undefined): string {
  return value === undefined ? '-' : value.toLocaleString('en-US')
}
