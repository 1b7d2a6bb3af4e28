// Throughput of the speed layer with both sinks on: one `cellstream stream` instance (Parquet
// archive, Postgres upserts of 5-minute totals, quota alerts) over a backfill of simulator
// events, until every input offset is committed. Usage: npm exec -- node bench/stream.ts [events]
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAdmin, withAdmin } from '../src/kafka/admin.ts'
import { kafkaBrokersFromEnv, databaseUrlFromEnv } from '../src/lib/config.ts'
import { parseBrokers } from '../src/lib/options.ts'
import { migrate } from '../src/db/migrate.ts'
import { closeDb, openDb } from '../src/db/pool.ts'
import { EventEncoder } from '../src/simulator/event-json.ts'
import { KafkaSink } from '../src/simulator/kafka-sink.ts'
import { simulate } from '../src/simulator/run.ts'
import { Traffic } from '../src/simulator/traffic.ts'

const events = Number(process.argv.slice(2).find(a => /^\d+$/.test(a)) ?? 2_000_000)
const brokers = parseBrokers(kafkaBrokersFromEnv())
const id = randomUUID().slice(0, 8)
const topic = `bench-stream-${id}`
const database = new URL(databaseUrlFromEnv())
database.pathname = `/cellstream_bench_${id}`

await migrate(database.toString())
const traffic = new Traffic({ seed: 'bench-stream', users: 1000, antennas: 100, rate: 500 })
const sink = await KafkaSink.open({ brokers, topic, partitions: 6, encoder: new EventEncoder(traffic.population) })
const from = Date.parse('2026-11-01T00:00:00Z') / 1000
await simulate({ traffic, sink, from, to: from + 30 * 86400, events })
await sink.close()
console.log(`input: ${events} events in ${topic}`)

const dir = await mkdtemp(join(tmpdir(), 'cellstream-bench-'))
const bin = fileURLToPath(new URL('../bin/cellstream.ts', import.meta.url))
const group = `bench-${id}`
// The stream process gets this process's Node flags (a CPU profile, say).
const child = spawn(
  process.execPath,
  [
    ...process.execArgv,
    bin,
    'stream',
    '--input-topic',
    topic,
    '--metadata-topic',
    `${topic}-users`,
    '--group',
    group,
    '--state-dir',
    join(dir, 'state'),
    '--archive-dir',
    join(dir, 'archive'),
    '--idle-timeout',
    '5'
  ],
  { env: { ...process.env, DATABASE_URL: database.toString() }, stdio: ['ignore', 'ignore', 'pipe'] }
)
let log = ''
child.stderr.on('data', chunk => {
  log += chunk
  if (process.env.BENCH_LOG) process.stderr.write(chunk)
})
let exited = false
child.once('exit', () => {
  exited = true
})
while (!log.includes('processing ')) {
  if (exited) throw new Error(`the stream process exited before processing:\n${log}`)
  await new Promise(resolve => setTimeout(resolve, 50))
}
const cpuAtStart = await cpuSeconds(child.pid!)
const started = performance.now()
let peakRss = 0
let cpu = cpuAtStart
// One admin client for the whole run: a new one per poll would take CPU from the process measured.
const admin = createAdmin(brokers, 'bench-stream')
for (;;) {
  const groups = await admin.listConsumerGroupOffsets({ groups: [group] })
  const committed =
    groups[0]?.topics
      .find(t => t.name === topic)
      ?.partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n) ?? 0n
  try {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
    peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024)
    cpu = await cpuSeconds(child.pid!)
  } catch {
    // The process may have just exited; the next poll ends the loop.
  }
  if (committed >= BigInt(events)) break
  await new Promise(resolve => setTimeout(resolve, 100))
}
const ms = performance.now() - started
const threads = await cpuByThread(child.pid!)
await admin.close()
const metricsUrl = /(http:\/\/\S+\/metrics)/.exec(log)?.[1]
const metrics = metricsUrl === undefined ? '' : await (await fetch(metricsUrl)).text()
child.kill('SIGTERM')
await new Promise(resolve => child.once('exit', resolve))
const cpuPerEvent = ((cpu - cpuAtStart) / events) * 1e6
console.log(
  `stream (archive + Postgres totals + quota alerts, exactly-once): ${Math.round(events / (ms / 1000)).toLocaleString('en-US')} events/s, peak RSS ${Math.round(peakRss / 2 ** 20)} MB, CPU ${cpuPerEvent.toFixed(2)} µs/event (${(cpu - cpuAtStart).toFixed(1)} s over ${(ms / 1000).toFixed(1)} s)`
)
console.log(`CPU by thread, since the process started: ${threads}`)
console.log(`windows from close to Postgres (flushes of the 5-minute totals): ${deliveries(metrics)}`)

const db = openDb(database.toString())
console.log(`bytes rows: ${await db.one('SELECT count(*) AS n FROM bytes', [], r => r.n as number)}`)
await closeDb(db)
const server = openDb(databaseUrlFromEnv().replace(/\/[^/]*$/, '/postgres'))
await server.none('DROP DATABASE IF EXISTS $1:name WITH (FORCE)', [database.pathname.slice(1)])
await closeDb(server)
await rm(dir, { recursive: true, force: true })
await withAdmin(brokers, async a => {
  const all = await a.listTopics()
  await a.deleteTopics({ topics: all.filter(t => t.includes(id)) })
  await a.deleteGroups({ groups: [group] })
})

/** CPU time (user + system) a process has used, from /proc: all its threads. */
async function cpuSeconds(pid: number): Promise<number> {
  return (await readStat(`/proc/${pid}/stat`)).seconds
}

/** A process's or thread's name and CPU time (user + system, in 1/100 s ticks) from its stat file. */
async function readStat(path: string): Promise<{ name: string; seconds: number }> {
  const stat = await readFile(path, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    seconds: (Number(fields[11]) + Number(fields[12])) / 100
  }
}

/** The share of window flushes to Postgres done within each bound, from the stream's /metrics. */
function deliveries(text: string): string {
  const buckets = new Map<string, number>()
  for (const match of text.matchAll(
    /^cellstream_window_delivery_seconds_bucket\{le="([^"]+)",aggregation="(antenna|user|app)-bytes"\} (\d+)$/gm
  )) {
    buckets.set(match[1]!, (buckets.get(match[1]!) ?? 0) + Number(match[3]))
  }
  const total = buckets.get('+Inf') ?? 0
  if (total === 0) return 'none measured'
  return (
    `${total} flushes; ` +
    ['0.25', '0.5', '1', '2']
      .map(le => `≤ ${le} s: ${((100 * (buckets.get(le) ?? 0)) / total).toFixed(1)} %`)
      .join(', ')
  )
}

/** CPU seconds per thread name (the main thread, libuv's pool with DuckDB and LevelDB, V8's GC helpers). */
async function cpuByThread(pid: number): Promise<string> {
  const byName = new Map<string, number>()
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const { name, seconds } = await readStat(`/proc/${pid}/task/${tid}/stat`)
    byName.set(name, (byName.get(name) ?? 0) + seconds)
  }
  return [...byName]
    .filter(([, seconds]) => seconds >= 0.1)
    .sort((a, b) => b[1] - a[1])
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
    .join(', ')
}
