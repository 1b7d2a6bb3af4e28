// What every scenario shares: its rig, its seeded input and ground truth, the mirror, and the
// exact comparison at its end. A scenario only says how it injects its faults.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brokerAddresses, LocalKafka } from '../../src/infra/local-kafka.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'
import { Fleet, startMirror } from './fleet.ts'
import { feed, rigEnv, simulateFile, truthOf, type Feed, type TrafficOptions, type Truth } from './input.ts'
import { Journal, openRig, type Rig, type RigOptions } from './rig.ts'
import { describe, verify, type Difference } from './verify.ts'

export interface Sizes {
  /** Records of input, valid and bad. */
  events: number
  /** The short version, for `npm test`: fewer faults, shorter outages. */
  short: boolean
  quiet?: boolean
}

export interface Setup {
  rig: Rig
  fleet: Fleet
  truth: Truth
  file: string
  journal: Journal
  /** Starts feeding the input at `rate` records per second. */
  feed: (rate: number) => Feed
  /** The scenario's own local cluster, when it asked for one. */
  cluster?: LocalKafka
  /** Records a failure of the scenario's own checks (not a table difference). */
  fail: (message: string) => void
}

export interface ScenarioResult {
  name: string
  journal: Journal
  differences: Difference[]
  failures: string[]
  seconds: number
}

export interface ScenarioSpec {
  name: string
  /** Records of input in the full and in the short version, unless `--events` says otherwise. */
  events: { full: number; short: number }
  traffic: (sizes: Sizes) => TrafficOptions
  rig?: Partial<RigOptions>
  /** Runs on a three-node local cluster of its own on these ports, stopped and wiped at the end. */
  localCluster?: { basePort: number }
  /** Extra `stream` flags for every instance. */
  streamArgs?: string[]
  /** Writes its own input file instead of the simulator's (hostile records mixed in). */
  makeInput?: (rig: Rig, sizes: Sizes) => Promise<string>
  inject: (setup: Setup, sizes: Sizes) => Promise<void>
}

export async function runScenario(spec: ScenarioSpec, sizes: Sizes): Promise<ScenarioResult> {
  const started = Date.now()
  const journal = new Journal(spec.name, sizes.quiet)
  const failures: string[] = []
  let differences: Difference[]
  const cluster = spec.localCluster === undefined ? undefined : await startCluster(spec.localCluster.basePort)
  try {
    const brokers = cluster === undefined ? await kafkaBrokers() : brokerAddresses(3, cluster.basePort)
    differences = await inRig(spec, sizes, { brokers, partitions: 6, ...spec.rig }, journal, failures, cluster)
  } finally {
    if (cluster !== undefined) await stopCluster(cluster)
  }
  const counts = [...journal.counts].map(([what, n]) => `${n} ${what}`).join(', ')
  journal.note(`done in ${Math.round((Date.now() - started) / 1000)} s: ${counts}`)
  for (const line of describe(differences)) journal.note(`DIFFERENCE ${line}`)
  journal.note(
    differences.length === 0 && failures.length === 0
      ? 'exact: bytes, bytes_hourly, user_quota_limit, quota_alerts and the compacted archive equal the truth'
      : `${differences.length} tables differ, ${failures.length} checks failed`
  )
  return { name: spec.name, journal, differences, failures, seconds: (Date.now() - started) / 1000 }
}

/** Runs the scenario in a rig of its own; returns the differences from the truth. */
async function inRig(
  spec: ScenarioSpec,
  sizes: Sizes,
  options: RigOptions,
  journal: Journal,
  failures: string[],
  cluster: LocalKafka | undefined
): Promise<Difference[]> {
  const rig = await openRig(options)
  try {
    const traffic = spec.traffic(sizes)
    const file = spec.makeInput !== undefined ? await spec.makeInput(rig, sizes) : await simulateFile(rig, traffic)
    const truth = await truthOf(rig, file, traffic.users)
    const s = truth.summary
    journal.note(
      `input: ${s.records} records (${s.valid} valid, ${s.late} late, ${s.invalid} bad), ${truth.bytes.length} windows rows, ${truth.quota_alerts.length} alerts`
    )
    await startMirror(rig, { ...process.env, ...rigEnv(rig) })
    const fleet = new Fleet(rig, journal, spec.streamArgs)
    const fail = (message: string): void => {
      failures.push(message)
      journal.note(`FAILED: ${message}`)
    }
    let differences: Difference[] = []
    try {
      const setup = { rig, fleet, truth, file, journal, cluster, feed: (rate: number) => feed(rig, file, rate), fail }
      await spec.inject(setup, sizes)
      differences = await verify(rig, fleet, truth, journal)
    } catch (error) {
      fail(String((error as Error).stack ?? error))
    }
    if (failures.length > 0 || differences.length > 0) journal.note(await fleet.tails())
    return differences
  } finally {
    await rig.close()
  }
}

async function startCluster(basePort: number): Promise<LocalKafka> {
  const kafka = new LocalKafka({ dataDir: await mkdtemp(join(tmpdir(), 'cellstream-chaos-kafka-')), basePort })
  try {
    await kafka.start(3)
  } catch (error) {
    await stopCluster(kafka)
    throw error
  }
  return kafka
}

async function stopCluster(kafka: LocalKafka): Promise<void> {
  await kafka.stop()
  await rm(kafka.dataDir, { recursive: true, force: true })
}
