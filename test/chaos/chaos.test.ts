// The short version of every chaos scenario (`npm run test:chaos` runs them at full size).
import test from 'ava'
import { runScenario } from './scenario.ts'
import { SCENARIOS } from './scenarios.ts'

for (const spec of SCENARIOS) {
  test.serial(`chaos, short: ${spec.name} ends with tables and archive equal to the ground truth`, async t => {
    const result = await runScenario(spec, { events: spec.events.short, short: true, quiet: true })
    t.log(result.journal.events.filter(line => !line.includes('--- last')).join('\n'))
    t.deepEqual(result.failures, [], result.journal.events.join('\n'))
    t.deepEqual(
      result.differences.map(d => d.table),
      [],
      result.journal.events.join('\n')
    )
  })
}
