// Instances of `cellstream stream` as the benchmark runs them: each in its own process with
// its own state folder, measured from /proc, checked against the ground truth.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Db } from '../../src/db/pool.ts'
import { sleep } from '../../src/lib/processes.ts'
import { GroundTruth, type BytesRow } from '../../src/truth/ground-truth.ts'
import { type BenchKafka } from './kafka.ts'
import { BIN, processStats, start, stop, type Running } from './processes.ts'

export interface StreamInstance extends Running {
  dir: string
  metricsUrl: () => string | undefined
}

export interface StreamOptions {
  topic: string
  metadataTopic: string
  group: string
  databaseUrl: string
  mirror?: boolean
}

/** Starts an instance and resolves once it processes (it printed its metrics address). */
export async function startStream(options: StreamOptions): Promise<StreamInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-bench-stream-'))
  const running = start(
    process.execPath,
    [
      BIN,
      'stream',
      '--input-topic',
      options.topic,
      '--metadata-topic',
      options.metadataTopic,
      '--group',
      options.group,
      '--state-dir',
      join(dir, 'state'),
      '--archive-dir',
      join(dir, 'archive'),
      '--idle-timeout',
      '5',
      '--alerts-topic',
      `${options.group}-alerts`,
      ...(options.mirror === true ? ['--mirror'] : [])
    ],
    { DATABASE_URL: options.databaseUrl }
  )
  const metricsUrl = (): string | undefined => /(http:\/\/\S+\/metrics)/.exec(running.log())?.[1]
  while (metricsUrl() === undefined) {
    if (running.child.exitCode !== null)
      throw new Error(`a stream instance exited before processing:\n${running.log()}`)
    await sleep(50)
  }
  return { ...running, dir, metricsUrl }
}

export async function stopStream(instance: StreamInstance): Promise<void> {
  await stop(instance)
  await rm(instance.dir, { recursive: true, force: true })
}

export interface Throughput {
  events: number
  seconds: number
  peakRssMb: number
  cpuSeconds: number
}

/**
 * Rate of `instances` over `events` input records, from the moment they all process to the
 * moment the group has committed every input offset; peak RSS is the largest instance's.
 */
export async function measureThroughput(
  kafka: BenchKafka,
  instances: StreamInstance[],
  group: string,
  topic: string,
  events: number
): Promise<Throughput> {
  const pids = instances.map(i => i.child.pid!)
  const cpuAtStart = (await Promise.all(pids.map(processStats))).reduce((sum, s) => sum + s.cpuSeconds, 0)
  const started = performance.now()
  const done = await kafka.waitCommitted(group, topic, BigInt(events), 600_000, async () => {
    if (instances.some(i => i.child.exitCode !== null))
      throw new Error(`a stream instance exited:\n${instances.map(i => i.log()).join('\n')}`)
  })
  if (!done) throw new Error('the stream instances did not commit every input offset within 10 minutes')
  const seconds = (performance.now() - started) / 1000
  // VmHWM: the peak over the process's life, start-up included.
  const stats = await Promise.all(pids.map(processStats))
  return {
    events,
    seconds,
    peakRssMb: Math.max(...stats.map(s => s.peakRssMb)),
    cpuSeconds: stats.reduce((sum, s) => sum + s.cpuSeconds, 0) - cpuAtStart
  }
}

/** The 5-minute totals a topic's records must give, computed without the engine. */
export async function expectedTotals(kafka: BenchKafka, topic: string): Promise<BytesRow[]> {
  const truth = new GroundTruth()
  for await (const record of kafka.read(topic))
    truth.add(record.value ?? Buffer.alloc(0), record.partition, Math.floor(record.timestamp / 1000))
  return truth.result().bytes
}

export const rowKey = (r: { timestamp: string; id: string; type: string }): string => `${r.type}|${r.timestamp}|${r.id}`

/** Rows of `expected` missing from or different in `actual`, and rows in `actual` only. */
export function compareTotals(
  expected: readonly BytesRow[],
  actual: ReadonlyMap<string, number>
): { rows: number; missing: number; wrong: number; extra: number; exact: boolean } {
  let missing = 0
  let wrong = 0
  const keys = new Set<string>()
  for (const row of expected) {
    const key = rowKey(row)
    keys.add(key)
    const value = actual.get(key)
    if (value === undefined) missing++
    else if (value !== row.value) wrong++
  }
  const extra = [...actual.keys()].filter(k => !keys.has(k)).length
  return { rows: expected.length, missing, wrong, extra, exact: missing + wrong + extra === 0 }
}

/** The `bytes` table once it holds `rows` rows (windows close after the idle timeout), or after `timeoutMs`. */
export async function bytesTable(db: Db, rows: number, timeoutMs: number): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && (await db.one('SELECT count(*)::int AS n FROM bytes', [], r => r.n as number)) < rows)
    await sleep(500)
  const table = await db.map(
    'SELECT "timestamp", id, value, type FROM bytes',
    [],
    r =>
      [
        rowKey({
          timestamp: (r.timestamp as Date).toISOString().replace('.000Z', 'Z'),
          id: r.id as string,
          type: r.type as string
        }),
        Number(r.value)
      ] as const
  )
  return new Map(table)
}

/** p50 and p99 (seconds, interpolated within buckets) of the window delivery histogram of the 5-minute totals. */
export function deliveryQuantiles(metrics: string): { flushes: number; p50: number; p99: number } {
  const buckets = new Map<number, number>()
  for (const match of metrics.matchAll(
    /^cellstream_window_delivery_seconds_bucket\{le="([^"]+)",aggregation="(antenna|user|app)-bytes"\} (\d+)$/gm
  )) {
    const le = match[1] === '+Inf' ? Infinity : Number(match[1])
    buckets.set(le, (buckets.get(le) ?? 0) + Number(match[3]))
  }
  const bounds = [...buckets].sort((a, b) => a[0] - b[0])
  const total = bounds.at(-1)?.[1] ?? 0
  const quantile = (q: number): number => {
    let lower = 0
    let below = 0
    for (const [le, count] of bounds) {
      if (count >= q * total)
        return le === Infinity ? lower : lower + ((le - lower) * (q * total - below)) / Math.max(1, count - below)
      lower = le
      below = count
    }
    return lower
  }
  return { flushes: total, p50: quantile(0.5), p99: quantile(0.99) }
}
