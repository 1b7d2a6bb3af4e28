// Instance crashes: three instances on six partitions, killed with -9 over and over while the
// input flows, each restarted at once. A kill counts only when the victim had committed since
// it started (its /ready answer says how many commits it made); some kills land while the
// victim restores its state, some while the group rebalances because another one rejoined.
import { sleep } from '../../src/lib/processes.ts'
import type { Fleet } from './fleet.ts'
import type { Journal } from './rig.ts'
import type { ScenarioSpec, Setup, Sizes } from './scenario.ts'

const NAMES = ['a', 'b', 'c']

export const crashes: ScenarioSpec = {
  name: 'crashes',
  events: { full: 3_000_000, short: 20_000 },
  traffic: sizes => ({ seed: 'chaos-crashes', events: sizes.events, rate: 100 }),
  inject: async (setup: Setup, sizes: Sizes) => {
    const { fleet, journal } = setup
    const target = sizes.short ? 3 : 20
    for (const name of NAMES) await fleet.start(name)
    for (const name of NAMES) await committed(fleet, name, 120_000)
    // About 20 s of input per kill (12 s in the short version); kill i lands once the feed
    // passed i / (target + 2) of the input, so every kill lands while events flow.
    const feedSeconds = (target + 2) * (sizes.short ? 12 : 20)
    const input = setup.feed(Math.ceil(sizes.events / feedSeconds))
    let finished = false
    void input.done.finally(() => {
      finished = true
    })
    let turn = 0
    while (!finished && journal.get('kills after a commit') < target) {
      if (input.sent() < ((turn + 1) / (target + 2)) * sizes.events) {
        await sleep(200)
        continue
      }
      const victim = NAMES[turn % NAMES.length]!
      const other = NAMES[(turn + 1) % NAMES.length]!
      const kind = (['plain', 'restore', 'rebalance'] as const)[turn % 3]
      turn++
      if (!(await killAndRestart(fleet, journal, victim, 'while processing'))) continue
      if (kind === 'restore') await killDuringRestore(fleet, journal, victim)
      if (kind === 'rebalance') await killDuringRebalance(fleet, journal, victim, other)
    }
    const sent = await input.done
    journal.note(`fed ${sent} records`)
    for (const name of NAMES)
      if (!(fleet.instances.get(name)?.running ?? false)) setup.fail(`instance ${name} is not running at the end`)
    const landed = journal.get('kills after a commit')
    if (landed < target) setup.fail(`only ${landed} kills landed after a commit of the victim, ${target} wanted`)
    if (!sizes.short && journal.get('kills during restore') === 0) setup.fail('no kill landed during a restore')
    if (journal.get('kills during a rebalance') === 0) setup.fail('no kill landed during a rebalance')
  }
}

/** Waits until `name` committed since it started; whether it did in time. */
async function committed(fleet: Fleet, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (((await fleet.status(name))?.commits ?? 0) > 0) return true
    await sleep(100)
  }
  return false
}

/** kill -9 of `name` if it committed since it started; restarts it. Whether it was killed. */
async function killAndRestart(fleet: Fleet, journal: Journal, name: string, when: string): Promise<boolean> {
  const ok = await committed(fleet, name, 30_000)
  const status = await fleet.status(name)
  if (!ok || status === undefined) {
    journal.note(`${name} has not committed within 30 s of its start (${status?.reason ?? 'no answer'}): not killed`)
    return false
  }
  await fleet.kill(name)
  journal.count('kills after a commit')
  journal.note(`kill -9 ${name} ${when}, after ${status.commits} commits of its own`)
  await fleet.start(name)
  journal.count('restarts')
  return true
}

/** Watches the restarted `name` until it restores its state, and kills it then. */
async function killDuringRestore(fleet: Fleet, journal: Journal, name: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const status = await fleet.status(name)
    if (status?.reason === 'restoring state') {
      await fleet.kill(name)
      journal.count('kills during restore')
      journal.note(`kill -9 ${name} while it restored its state`)
      await fleet.start(name)
      journal.count('restarts')
      return
    }
    if (status?.ready === true) break
    await sleep(50)
  }
  journal.note(`${name} was ready again without a restore phase seen`)
}

/** Once the restarted `joined` answers (it is joining the group), kills `victim` amid the rebalance. */
async function killDuringRebalance(fleet: Fleet, journal: Journal, joined: string, victim: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && (await fleet.status(joined)) === undefined) await sleep(50)
  const status = await fleet.status(victim)
  if (status === undefined || status.commits === 0) {
    journal.note(`${victim} has not committed since it started: not killed during the rebalance`)
    return
  }
  await fleet.kill(victim)
  journal.count('kills after a commit')
  journal.count('kills during a rebalance')
  journal.note(`kill -9 ${victim} while ${joined} rejoined the group, after ${status.commits} commits of its own`)
  await fleet.start(victim)
  journal.count('restarts')
}
