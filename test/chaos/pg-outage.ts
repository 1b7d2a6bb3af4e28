// PostgreSQL outages while events flow: the scenario's own database refuses connections and
// its sessions are ended (the machine's server keeps running for everyone else), then it is
// let in again. The instances must wait it out: alive, not ready with the reason, then
// ready again, with nothing lost.
import { closeDb, openDb } from '../../src/db/pool.ts'
import { sleep } from '../../src/lib/processes.ts'
import { serverUrl } from '../helpers/db.ts'
import type { ScenarioSpec, Setup, Sizes } from './scenario.ts'

const NAMES = ['a', 'b']

export const pgOutage: ScenarioSpec = {
  name: 'pg-outage',
  events: { full: 300_000, short: 10_000 },
  // Few events per second of event time: windows close (and rows are written) every few seconds.
  traffic: sizes => ({ seed: 'chaos-pg-outage', events: sizes.events, rate: sizes.short ? 5 : 20 }),
  inject: async (setup: Setup, sizes: Sizes) => {
    const { fleet, journal, rig } = setup
    const outages = sizes.short ? [8, 15] : [30, 120]
    rig.defer(() => setReachable(rig.database, true))
    for (const name of NAMES) await fleet.start(name)
    await allReady(setup, 120_000)
    const feedSeconds = outages.reduce((a, b) => a + b, 0) + (sizes.short ? 30 : 90)
    const input = setup.feed(Math.ceil(sizes.events / feedSeconds))
    for (const seconds of outages) {
      await sleep(sizes.short ? 8_000 : 20_000)
      await setReachable(rig.database, false)
      journal.count('outages')
      journal.note(`database ${rig.database} refuses connections for ${seconds} s, after ${input.sent()} records`)
      const reasons = new Set<string>()
      const ends = Date.now() + seconds * 1000
      while (Date.now() < ends) {
        for (const name of NAMES) {
          const status = await fleet.status(name)
          if (!(fleet.instances.get(name)?.running ?? false)) setup.fail(`${name} exited during the outage`)
          else if (status !== undefined && !status.live) setup.fail(`${name} is not live during the outage`)
          if (status?.ready === false && status.reason !== undefined) reasons.add(status.reason.replace(/\d+ s/, 'N s'))
        }
        await sleep(1000)
      }
      await setReachable(rig.database, true)
      journal.note(`database back; /ready said: ${[...reasons].join(' | ') || 'nothing'}`)
      if (![...reasons].some(reason => /failing for N s, retrying/.test(reason)))
        setup.fail(`no instance said in /ready that it was failing during the ${seconds} s outage`)
      await allReady(setup, 120_000)
      journal.note('every instance ready again')
    }
    journal.note(`fed ${await input.done} records`)
  }
}

async function allReady(setup: Setup, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const name of NAMES) {
    while ((await setup.fleet.status(name))?.ready !== true) {
      if (Date.now() > deadline) {
        setup.fail(`${name} was not ready within ${timeoutMs / 1000} s`)
        return
      }
      await sleep(500)
    }
  }
}

/** Refuses new connections to `database` and ends its sessions, or lets them in again. */
export async function setReachable(database: string, reachable: boolean): Promise<void> {
  const admin = openDb(serverUrl('postgres'))
  try {
    await admin.none('ALTER DATABASE $1:name ALLOW_CONNECTIONS $2:raw', [database, reachable ? 'true' : 'false'])
    if (!reachable)
      await admin.any(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database]
      )
  } finally {
    await closeDb(admin)
  }
}
