// Throughput of the speed layer with both sinks on: one `cellstream stream` instance (Parquet
// archive, Postgres upserts of 5-minute totals, quota alerts) over a backfill of simulator
// events, until every input offset is committed. Usage: npm exec -- node bench/stream.ts [events]
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withAdmin } from '../src/kafka/admin.ts'
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
const child = spawn(process.execPath, [bin, 'stream', '--input-topic', topic, '--metadata-topic', `${topic}-users`, '--group', group,
  '--state-dir', join(dir, 'state'), '--archive-dir', join(dir, 'archive'), '--idle-timeout', '5'],
{ env: { ...process.env, DATABASE_URL: database.toString() }, stdio: ['ignore', 'ignore', 'pipe'] })
let log = ''
child.stderr.on('data', chunk => { log += chunk })
while (!log.includes('processing ')) await new Promise(resolve => setTimeout(resolve, 50))
const started = performance.now()
let peakRss = 0
for (;;) {
  const groups = await withAdmin(brokers, admin => admin.listConsumerGroupOffsets({ groups: [group] }))
  const committed = groups[0]?.topics.find(t => t.name === topic)?.partitions.reduce((sum, p) => sum + (p.committedOffset > 0n ? p.committedOffset : 0n), 0n) ?? 0n
  try {
    const status = await import('node:fs/promises').then(fs => fs.readFile(`/proc/${child.pid}/status`, 'utf8'))
    peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024)
  } catch {
    // The process may have just exited; the next poll ends the loop.
  }
  if (committed >= BigInt(events)) break
  await new Promise(resolve => setTimeout(resolve, 100))
}
const ms = performance.now() - started
child.kill('SIGTERM')
await new Promise(resolve => child.once('exit', resolve))
console.log(`stream (archive + Postgres totals + quota alerts, exactly-once): ${Math.round(events / (ms / 1000)).toLocaleString('en-US')} events/s, peak RSS ${Math.round(peakRss / 2 ** 20)} MB`)

const db = openDb(database.toString())
console.log(`bytes rows: ${await db.one('SELECT count(*) AS n FROM bytes', [], r => r.n as number)}`)
await closeDb(db)
const admin = openDb(databaseUrlFromEnv().replace(/\/[^/]*$/, '/postgres'))
await admin.none('DROP DATABASE IF EXISTS $1:name WITH (FORCE)', [database.pathname.slice(1)])
await closeDb(admin)
await rm(dir, { recursive: true, force: true })
await withAdmin(brokers, async a => {
  const all = await a.listTopics()
  await a.deleteTopics({ topics: all.filter(t => t.includes(id)) })
})
