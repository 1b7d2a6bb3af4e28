// The same job written for Kafka Streams (bench/kafka-streams), built with Maven and run in a
// JVM of its own on the benchmark's input, measured like a stream instance.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from '../../src/lib/processes.ts'
import { type BytesRow } from '../../src/truth/ground-truth.ts'
import { type BenchKafka } from './kafka.ts'
import { processStats, start, stop } from './processes.ts'
import { compareTotals } from './speed-layer.ts'

const PROJECT = fileURLToPath(new URL('../kafka-streams/', import.meta.url))
const TYPES = ['antenna_total_bytes', 'user_total_bytes', 'app_total_bytes']

export async function buildKafkaStreamsJob(): Promise<void> {
  const result = await run('mvn', ['-q', '-B', '-f', join(PROJECT, 'pom.xml'), 'package'], 'Apache Maven')
  if (result.code !== 0)
    throw new Error(`the Kafka Streams job did not build:\n${(result.stdout + result.stderr).slice(-3000)}`)
}

export interface KafkaStreamsRun {
  settings: { graceMs: number; maxTaskIdleMs: number }
  events: number
  seconds: number
  peakRssMb: number
  cpuSeconds: number
  check: ReturnType<typeof compareTotals> & { dropped: number }
}

/** Runs the job over `topic` from its start until every record is through every stage, then checks its totals. */
export async function runKafkaStreams(
  kafka: BenchKafka,
  options: {
    topic: string
    metadataTopic: string
    applicationId: string
    events: number
    expected: readonly BytesRow[]
    graceMs: number
    maxTaskIdleMs: number
  }
): Promise<KafkaStreamsRun> {
  const { topic, applicationId, events } = options
  const output = `${applicationId}-totals`
  // Its records carry event times, which a time-based retention would delete before they are read.
  await kafka.createTopic(output, 6, { 'retention.ms': '-1' })
  const stateDir = await mkdtemp(join(tmpdir(), 'cellstream-bench-kstreams-'))
  const job = start('java', [
    '-cp',
    `${join(PROJECT, 'target/classes')}:${join(PROJECT, 'target/lib/*')}`,
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    'cellstream.bench.AntennaJob',
    kafka.brokers.join(','),
    topic,
    options.metadataTopic,
    output,
    applicationId,
    stateDir,
    String(options.graceMs),
    String(options.maxTaskIdleMs)
  ])
  try {
    const pid = job.child.pid!
    // Measured from the JVM's start: its rebalance and restore are part of what a user waits for.
    const started = performance.now()
    const alive = async (): Promise<void> => {
      if (job.child.exitCode !== null) throw new Error(`the Kafka Streams job exited:\n${job.log()}`)
    }
    if (!(await kafka.waitCommitted(applicationId, topic, BigInt(events), 900_000, alive)))
      throw new Error('Kafka Streams did not commit its input within 15 minutes')
    // The sums read what the first stage wrote to the repartition topics: done when those are committed too.
    for (const type of TYPES) {
      const repartition = `${applicationId}-${type}-repartition`
      const end = await kafka.endOffset(repartition)
      if (!(await kafka.waitCommitted(applicationId, repartition, end, 300_000, alive)))
        throw new Error(`Kafka Streams did not drain ${repartition}`)
    }
    const seconds = (performance.now() - started) / 1000
    const stats = await processStats(pid)
    const totals = new Map<string, number>()
    for await (const record of kafka.read(output)) {
      const [type, start, id] = record.key!.toString().split('|') as [string, string, string]
      totals.set(
        `${type}|${new Date(Number(start) * 1000).toISOString().replace('.000Z', 'Z')}|${id}`,
        Number(record.value!.readBigInt64BE())
      )
    }
    const check = compareTotals(options.expected, totals)
    const expectedBytes = options.expected.reduce((sum, r) => sum + r.value, 0)
    const gotBytes = options.expected.reduce((sum, r) => sum + (totals.get(`${r.type}|${r.timestamp}|${r.id}`) ?? 0), 0)
    return {
      settings: { graceMs: options.graceMs, maxTaskIdleMs: options.maxTaskIdleMs },
      events,
      seconds,
      peakRssMb: stats.peakRssMb,
      cpuSeconds: stats.cpuSeconds,
      check: { ...check, dropped: expectedBytes - gotBytes }
    }
  } finally {
    await stop(job)
    await rm(stateDir, { recursive: true, force: true })
  }
}
