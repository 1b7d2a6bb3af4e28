// Broker loss: a three-node local cluster of its own (other ports, its own data folder),
// topics with three replicas and min.insync.replicas=2. One broker is killed with -9 mid-run
// and started again later; then the node of the active controller. The cluster is stopped
// and wiped at the end.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LocalKafka } from '../../src/infra/local-kafka.ts'
import { sleep } from '../../src/lib/processes.ts'
import { awaitSpeedLayer } from './verify.ts'
import type { ScenarioSpec, Setup, Sizes } from './scenario.ts'

const NAMES = ['a', 'b']
const BASE_PORT = 19492

export const brokers: ScenarioSpec = {
  name: 'brokers',
  events: { full: 1_000_000, short: 20_000 },
  traffic: sizes => ({ seed: 'chaos-brokers', events: sizes.events, rate: 100 }),
  rig: { replicas: 3, topicConfig: { 'min.insync.replicas': '2' } },
  localCluster: { basePort: BASE_PORT },
  inject: async (setup: Setup, sizes: Sizes) => {
    const { fleet, journal } = setup
    const kafka = setup.cluster!
    for (const name of NAMES) await fleet.start(name)
    const probe = fleet.watchLiveness()
    const input = setup.feed(Math.ceil(sizes.events / (sizes.short ? 100 : 300)))
    // Until the feed passed `share` of the input, or `timeoutMs` passed: whether it did.
    const at = async (share: number, timeoutMs = Infinity): Promise<boolean> => {
      const deadline = Date.now() + timeoutMs
      while (input.sent() < share * sizes.events) {
        if (Date.now() > deadline) return false
        await sleep(200)
      }
      return true
    }
    const downMs = sizes.short ? 30_000 : 90_000
    for (const [kill, restart, which] of [
      [0.15, 0.4, 'a broker'],
      [0.55, 0.8, "the active controller's node"]
    ] as const) {
      await at(kill)
      const id = which === 'a broker' ? 2 : await activeController(kafka)
      const node = (await kafka.status()).find(n => n.id === id)
      if (node?.pid === undefined || !node.alive) {
        setup.fail(`node ${id} is not running`)
        continue
      }
      process.kill(node.pid, 'SIGKILL')
      journal.count('broker kills')
      const sentAtKill = input.sent()
      journal.note(`kill -9 node ${id} (${which}, port ${node.port}) after ${sentAtKill} records`)
      // Started again once the feed moved on, or after a while if the loss stops the feed.
      if (!(await at(restart, downMs)))
        journal.note(
          `the feed moved only ${input.sent() - sentAtKill} records in ${downMs / 1000} s without node ${id}`
        )
      await kafka.start(3)
      journal.count('broker restarts')
      journal.note(`node ${id} started again after ${input.sent()} records`)
    }
    journal.note(`fed ${await input.done} records`)
    // The probe goes on until the speed layer caught up: a hang after the faults counts too.
    if (!(await awaitSpeedLayer(setup.rig, setup.truth, 600_000)))
      setup.fail('the speed layer made no progress for 600 s before reaching the truth')
    await probe.stop()
    for (const name of NAMES) if (!(fleet.instances.get(name)?.running ?? false)) setup.fail(`instance ${name} exited`)
  }
}

/** The KRaft quorum's leader, as the nodes' quorum-state files record it. */
async function activeController(kafka: LocalKafka): Promise<number> {
  for (const node of await kafka.status()) {
    const file = join(kafka.dataDir, `node-${node.id}`, 'logs', '__cluster_metadata-0', 'quorum-state')
    const state = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as { leaderId?: number }
    if (node.alive && state.leaderId !== undefined && state.leaderId > 0) return state.leaderId
  }
  throw new Error('no node knows the active controller')
}
