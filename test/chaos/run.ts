// `npm run test:chaos`: runs each chaos scenario at full size (or `--short`), prints what it
// did and every difference from the ground truth, and exits 1 on any difference or failed check.
//
//   node test/chaos/run.ts [--scenario crashes,scale,…] [--events N] [--short]
import { parseArgs } from 'node:util'
import { SCENARIOS } from './scenarios.ts'
import { runScenario, type ScenarioResult } from './scenario.ts'

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    events: { type: 'string' },
    short: { type: 'boolean', default: false }
  }
})
const names = values.scenario?.split(',') ?? SCENARIOS.map(s => s.name)
const unknown = names.filter(name => !SCENARIOS.some(s => s.name === name))
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}: try ${SCENARIOS.map(s => s.name).join(', ')}`)
  process.exit(2)
}
const events = values.events === undefined ? undefined : Number(values.events)
if (events !== undefined && !(Number.isInteger(events) && events > 0)) {
  console.error(`--events must be a positive integer, not ${values.events}`)
  process.exit(2)
}

const results: ScenarioResult[] = []
for (const spec of SCENARIOS.filter(s => names.includes(s.name))) {
  const size = events ?? (values.short ? spec.events.short : spec.events.full)
  console.log(`== ${spec.name}: ${size} records${values.short ? ', short version' : ''}`)
  results.push(await runScenario(spec, { events: size, short: values.short }))
}
console.log('== summary')
for (const r of results) {
  const counts = [...r.journal.counts].map(([what, n]) => `${n} ${what}`).join(', ')
  const verdict = r.differences.length === 0 && r.failures.length === 0 ? 'exact' : 'FAILED'
  console.log(`${r.name}: ${verdict} in ${Math.round(r.seconds)} s (${counts})`)
}
process.exit(results.every(r => r.differences.length === 0 && r.failures.length === 0) ? 0 : 1)
