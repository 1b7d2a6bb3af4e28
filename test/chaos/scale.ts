// Scale out and in while events flow: one instance, then three, then two, then one again.
// Scaling in is what an orchestrator does: SIGTERM, a last commit, the group rebalances.
import { sleep } from '../../src/lib/processes.ts'
import type { Fleet } from './fleet.ts'
import type { ScenarioSpec, Setup, Sizes } from './scenario.ts'

export const scale: ScenarioSpec = {
  name: 'scale',
  events: { full: 1_000_000, short: 20_000 },
  traffic: sizes => ({ seed: 'chaos-scale', events: sizes.events, rate: 100 }),
  inject: async (setup: Setup, sizes: Sizes) => {
    const { fleet, journal } = setup
    await fleet.start('a')
    if (!(await working(fleet, 'a'))) setup.fail('a did not commit within 120 s of its start')
    const input = setup.feed(Math.ceil(sizes.events / (sizes.short ? 60 : 240)))
    const at = async (share: number): Promise<void> => {
      while (input.sent() < share * sizes.events) await sleep(200)
    }
    await at(0.2)
    await Promise.all([fleet.start('b'), fleet.start('c')])
    journal.note(`scaled out to 3 instances after ${input.sent()} records`)
    for (const name of ['b', 'c'])
      if (!(await working(fleet, name))) setup.fail(`${name} did not take partitions and commit within 120 s`)
    for (const [share, name] of [
      [0.5, 'c'],
      [0.75, 'b']
    ] as const) {
      await at(share)
      const code = await fleet.stop(name)
      journal.count('scale-ins')
      journal.note(`scaled in: stopped ${name} (exit code ${code}) after ${input.sent()} records`)
      if (code !== 0) setup.fail(`${name} exited with ${code} on SIGTERM`)
    }
    journal.note(`fed ${await input.done} records`)
    if (!(await working(fleet, 'a'))) setup.fail('a alone did not go on committing')
  }
}

/** Waits until `name` works on partitions and committed since it started. */
async function working(fleet: Fleet, name: string): Promise<boolean> {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    const status = await fleet.status(name)
    if (status !== undefined && status.commits > 0 && status.assignment.length > 0) return true
    await sleep(200)
  }
  return false
}
