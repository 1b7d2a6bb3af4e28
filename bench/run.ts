// `npm run bench`: every stage of the pipeline measured in one run, each as a ratio to the
// ceiling it cannot beat on this machine, measured in the same run, with the load average beside
// it (machines are shared and noisy: compare ratios, not absolute rates, across runs). Prints a
// table and writes bench/results/<date>.json.
//
// Usage: npm run bench [-- --events N] [--compact-events N --compact-files F] [--skip kafka-streams,...]
// Default: 2,400,000 events on 6 partitions; an hour's compaction of 3,600,000 events in 2,160
// files (a tenth of an hour at 10,000 events/s; `--compact-events 36000000 --compact-files 21600`
// is a whole one). Needs Kafka, PostgreSQL, Java and Maven; deletes the topics, groups and
// database it creates.
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { migrate } from '../src/db/migrate.ts'
import { closeDb, openDb } from '../src/db/pool.ts'
import { upsertUsers } from '../src/db/provision.ts'
import { databaseUrlFromEnv, kafkaBrokersFromEnv } from '../src/lib/config.ts'
import { parseBrokers } from '../src/lib/options.ts'
import { STREAM_NODE_FLAGS } from '../src/lib/memory-settings.ts'
import { makeUsers } from '../src/simulator/population.ts'
import { BenchKafka } from './lib/kafka.ts'
import { buildKafkaStreamsJob, runKafkaStreams } from './lib/kafka-streams.ts'
import { BIN, load, runScript, start } from './lib/processes.ts'
import { type StageResult } from './lib/result.ts'
import {
  bytesTable,
  compareTotals,
  deliveryQuantiles,
  expectedTotals,
  measureThroughput,
  startStream,
  stopStream
} from './lib/speed-layer.ts'

const args = process.argv.slice(2)
const option = (name: string, fallback: number): number =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback
const EVENTS = option('--events', 2_400_000)
const COMPACT_EVENTS = option('--compact-events', 3_600_000)
const COMPACT_FILES = option('--compact-files', 2160)
const skip = new Set(args.includes('--skip') ? args[args.indexOf('--skip') + 1]!.split(',') : [])
const USERS = 1000

export interface Row {
  stage: string
  eventsPerSecond: number
  /** The ceiling this stage is compared with, and the ratio to it. */
  ceiling?: string
  ratio?: number
  peakRssMb?: number
  cpuMicrosPerEvent?: number
  load: number
  detail?: Record<string, unknown>
}

const id = randomUUID().slice(0, 8)
const brokers = parseBrokers(kafkaBrokersFromEnv())
const kafka = new BenchKafka(brokers, id)
const database = new URL(databaseUrlFromEnv())
database.pathname = `/cellstream_bench_${id}`
const rows: Row[] = []
const ceilings = new Map<string, number>()
const startedAt = new Date()

function rate(r: { events: number; seconds: number }): number {
  return Math.round(r.events / r.seconds)
}

function add(
  stage: string,
  result: Pick<StageResult, 'events' | 'seconds' | 'peakRssMb' | 'cpuSeconds'>,
  ceiling?: string,
  detail?: Record<string, unknown>,
  loadBefore = load()
): Row {
  const perSecond = rate(result)
  const against = ceiling === undefined ? undefined : ceilings.get(ceiling)
  const row: Row = {
    stage,
    eventsPerSecond: perSecond,
    ...(ceiling === undefined
      ? {}
      : { ceiling, ratio: against === undefined ? undefined : Math.round((perSecond / against) * 100) / 100 }),
    ...(result.peakRssMb === undefined ? {} : { peakRssMb: result.peakRssMb }),
    ...(result.cpuSeconds === undefined
      ? {}
      : { cpuMicrosPerEvent: Math.round((result.cpuSeconds / result.events) * 1e6 * 100) / 100 }),
    load: loadBefore,
    ...(detail === undefined ? {} : { detail })
  }
  rows.push(row)
  console.error(
    `${stage}: ${perSecond.toLocaleString('en-US')} /s${row.ratio === undefined ? '' : ` (${row.ratio} of ${ceiling})`}${row.peakRssMb === undefined ? '' : `, ${row.peakRssMb} MB`}, load ${row.load}${detail === undefined ? '' : ` ${JSON.stringify(detail)}`}`
  )
  return row
}

async function stage(name: string, fn: () => Promise<void>): Promise<void> {
  if (skip.has(name)) return
  try {
    await fn()
  } catch (error) {
    rows.push({
      stage: `${name}: failed`,
      eventsPerSecond: 0,
      load: load(),
      detail: { error: String((error as Error).message ?? error).slice(0, 2000) }
    })
    console.error(`${name} failed: ${(error as Error).stack ?? String(error)}`)
  }
}

const input = `bench-${id}-devices`
const metadata = `bench-${id}-users`
try {
  await migrate(database.toString())
  const db = openDb(database.toString())
  await upsertUsers(db, makeUsers(USERS))
  await kafka.createTopic(metadata, 1, { 'cleanup.policy': 'compact' })

  // The input, written by the simulator: its rate is the first stage's.
  await kafka.createTopic(input, 6)
  const backfill = await runScript('stages/backfill.ts', [input, String(EVENTS), '6'])

  // Ceilings: what this machine's Kafka client and one core do without our code.
  let loadBefore = load()
  const consume = await runScript('stages/consume.ts', [input, String(EVENTS), `bench-${id}-consume`])
  ceilings.set('client consume', rate(consume))
  add('ceiling: client consume (message stream)', consume, undefined, undefined, loadBefore)
  loadBefore = load()
  const produce = await runScript('stages/produce.ts', [
    input,
    await kafka.createTopic(`bench-${id}-produce`, 6),
    String(Math.min(EVENTS, 1_000_000))
  ])
  ceilings.set('client produce', rate(produce))
  add('ceiling: client produce', produce, undefined, undefined, loadBefore)
  loadBefore = load()
  const parse = await runScript('stages/parse.ts', [input, String(Math.min(EVENTS, 1_000_000))])
  ceilings.set('JSON.parse', rate({ events: parse.events, seconds: parse.seconds }))
  add(
    'ceiling: JSON.parse, one core',
    { events: parse.events, seconds: parse.seconds },
    undefined,
    undefined,
    loadBefore
  )

  add('simulator backfill', backfill, 'client produce')

  await stage('engine', async () => {
    const loadBefore = load()
    const flags = Object.entries(STREAM_NODE_FLAGS).map(([name, value]) => `${name}=${value}`)
    add(
      'engine only (parse, 3 windowed sums, exactly-once)',
      await runScript('engine-instance.ts', [input, String(EVENTS), '6'], {}, flags),
      'client consume',
      undefined,
      loadBefore
    )
  })

  let speedLayerRate = 0
  await stage('speed-layer', async () => {
    const expected = await expectedTotals(kafka, input)
    const loadBefore = load()
    const group = `bench-${id}-stream`
    const instance = await startStream({
      topic: input,
      metadataTopic: metadata,
      group,
      databaseUrl: database.toString(),
      mirror: true
    })
    try {
      const result = await measureThroughput(kafka, [instance], group, input, EVENTS)
      speedLayerRate = rate(result)
      const check = compareTotals(expected, await bytesTable(db, expected.length, 60_000))
      add(
        'speed layer: archive, Postgres totals, quota alerts, mirror',
        result,
        'client consume',
        { exact: check.exact, rows: check.rows, missing: check.missing, wrong: check.wrong },
        loadBefore
      )
    } finally {
      await stopStream(instance)
    }
  })

  await stage('latency', async () => {
    // Half the speed layer's rate, live: event time runs 30 times faster than the wall clock
    // (a 5-minute window closes every 10 s), from an hour ago, for a minute.
    const perSecond = Math.round((speedLayerRate > 0 ? speedLayerRate : 100_000) / 2)
    const speed = 30
    const topic = await kafka.createTopic(`bench-${id}-live`, 6)
    const group = `bench-${id}-live`
    const instance = await startStream({ topic, metadataTopic: metadata, group, databaseUrl: database.toString() })
    const loadBefore = load()
    try {
      const from = new Date(Date.now() - 3600_000).toISOString()
      const simulator = start(
        process.execPath,
        [
          BIN,
          'simulate',
          '--topic',
          topic,
          '--users',
          String(USERS),
          '--antennas',
          '100',
          '--rate',
          String(perSecond / speed),
          '--speed',
          String(speed),
          '--from',
          from,
          '--events',
          String(perSecond * 60),
          '--seed',
          'bench-live'
        ],
        { DATABASE_URL: database.toString() }
      )
      await new Promise(resolve => simulator.child.once('exit', resolve))
      if (simulator.child.exitCode !== 0) throw new Error(`the live simulator failed:\n${simulator.log()}`)
      await kafka.waitCommitted(group, topic, BigInt(perSecond * 60), 120_000)
      const metrics = await (await fetch(instance.metricsUrl()!)).text()
      const { flushes, p50, p99 } = deliveryQuantiles(metrics)
      rows.push({
        stage: "latency: window close to its Postgres row, at half the speed layer's rate",
        eventsPerSecond: perSecond,
        load: loadBefore,
        detail: { flushes, p50Seconds: Math.round(p50 * 1000) / 1000, p99Seconds: Math.round(p99 * 1000) / 1000 }
      })
      console.error(`latency at ${perSecond}/s: ${flushes} flushes, p50 ${p50.toFixed(3)} s, p99 ${p99.toFixed(3)} s`)
    } finally {
      await stopStream(instance)
    }
  })

  await stage('scaling', async () => {
    const events = Math.round(EVENTS / 2)
    const filled = await kafka.createTopic(`bench-${id}-twelve`, 12)
    await runScript('stages/backfill.ts', [filled, String(events), '12'])
    const ceilingLoad = load()
    const consume12 = await runScript('stages/consume.ts', [filled, String(events), `bench-${id}-consume12`])
    ceilings.set('client consume, 12 partitions', rate(consume12))
    add('ceiling: client consume, 12 partitions', consume12, undefined, undefined, ceilingLoad)
    for (const count of [1, 2, 3]) {
      // Every instance joins the group before the input arrives, so none gets a head start
      // and no rebalance falls inside the measurement; the backfill (several times faster
      // than the instances) runs at its start.
      const topic = await kafka.createTopic(`bench-${id}-twelve-${count}`, 12)
      const group = `bench-${id}-scale-${count}`
      const instances = []
      try {
        for (let i = 0; i < count; i++)
          instances.push(await startStream({ topic, metadataTopic: metadata, group, databaseUrl: database.toString() }))
        while (
          !instances.every(i => /assigned \d+ partitions/.test(i.log())) ||
          instances.reduce(
            (sum, i) => sum + Number(/assigned (\d+) partitions(?![\s\S]*assigned)/.exec(i.log())?.[1] ?? 0),
            0
          ) <
            12 * 5
        )
          await new Promise(resolve => setTimeout(resolve, 200))
        const loadBefore = load()
        const measured = measureThroughput(kafka, instances, group, topic, events)
        await runScript('stages/backfill.ts', [topic, String(events), '12'])
        add(
          `speed layer, ${count} instance${count > 1 ? 's' : ''} on 12 partitions`,
          await measured,
          'client consume, 12 partitions',
          undefined,
          loadBefore
        )
      } finally {
        await Promise.all(instances.map(stopStream))
      }
    }
  })

  await stage('restore', async () => {
    const loadBefore = load()
    add(
      'restore of 1,000,000 window keys into LevelDB',
      await runScript('stages/restore.ts', [
        await kafka.createTopic(`bench-${id}-restore`, 1, { 'cleanup.policy': 'compact' }),
        '1000000'
      ]),
      'client consume',
      undefined,
      loadBefore
    )
  })

  await stage('compactor', async () => {
    const loadBefore = load()
    const result = await runScript('compact.ts', [
      String(COMPACT_EVENTS),
      '--users',
      String(COMPACT_EVENTS / 60),
      '--files',
      String(COMPACT_FILES),
      '--compression',
      'snappy'
    ])
    ceilings.set('DuckDB scan of the files', Math.round(result.events / (result.scanSeconds as number)))
    add(
      `compactor: cold hour, ${COMPACT_EVENTS.toLocaleString('en-US')} events in ${COMPACT_FILES.toLocaleString('en-US')} files`,
      result,
      'DuckDB scan of the files',
      {
        seconds: Math.round(result.seconds * 100) / 100,
        scanSeconds: Math.round((result.scanSeconds as number) * 100) / 100,
        phases: result.phases
      },
      loadBefore
    )
  })

  await stage('kafka-streams', async () => {
    await buildKafkaStreamsJob()
    const expected = await expectedTotals(kafka, input)
    // The same grace as ours with its default max.task.idle.ms (0), then with tasks waiting up
    // to 10 minutes for every input partition (which does not help: each sum's task reads one
    // repartition partition), then a grace longer than the backlog's event time, which makes
    // its totals exact (docs/benchmarks.md).
    const runs = [
      ['defaults', { graceMs: 60_000, maxTaskIdleMs: 0 }],
      ['idle 10 min', { graceMs: 60_000, maxTaskIdleMs: 600_000 }],
      ['grace 1 day', { graceMs: 86_400_000, maxTaskIdleMs: 0 }]
    ] as const
    for (const [name, settings] of runs) {
      const loadBefore = load()
      const result = await runKafkaStreams(kafka, {
        topic: input,
        metadataTopic: metadata,
        applicationId: `bench-${id}-kstreams-${name.replaceAll(' ', '-')}`,
        events: EVENTS,
        expected,
        ...settings
      })
      add(
        `Kafka Streams (grace ${settings.graceMs / 1000} s, max.task.idle.ms ${settings.maxTaskIdleMs})`,
        result,
        'client consume',
        {
          exact: result.check.exact,
          rows: result.check.rows,
          missing: result.check.missing,
          wrong: result.check.wrong,
          bytesMissing: result.check.dropped
        },
        loadBefore
      )
    }
  })
  await closeDb(db)
} finally {
  await kafka.cleanUp().catch(error => console.error(`cleaning up topics: ${String(error)}`))
  const server = openDb(databaseUrlFromEnv().replace(/\/[^/]*$/, '/postgres'))
  await server.none('DROP DATABASE IF EXISTS $1:name WITH (FORCE)', [database.pathname.slice(1)]).catch(() => {})
  await closeDb(server)
}

const results = {
  date: startedAt.toISOString(),
  command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version
  },
  events: EVENTS,
  seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
  rows
}
const dir = fileURLToPath(new URL('./results/', import.meta.url))
await mkdir(dir, { recursive: true })
let file = `${dir}${startedAt.toISOString().slice(0, 10)}.json`
for (let n = 2; existsSync(file); n++) file = `${dir}${startedAt.toISOString().slice(0, 10)}-${n}.json`
await writeFile(file, JSON.stringify(results, null, 2) + '\n')
console.log(table(rows))
console.log(
  `\n${results.command}: ${results.machine.cpus} cores (${results.machine.model}), ${results.machine.memoryGb} GB, Node ${process.version}, ${results.date}, ${results.seconds} s; results in ${file}`
)

function table(rows: Row[]): string {
  const number = (n: number | undefined, digits = 0): string =>
    n === undefined ? '' : n.toLocaleString('en-US', { maximumFractionDigits: digits })
  const lines = [
    '| stage | events/s | ratio to ceiling | peak RSS | CPU µs/event | load | notes |',
    '|---|---:|---|---:|---:|---:|---|'
  ]
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `${r.ratio.toFixed(2)} of ${r.ceiling}`
    const notes =
      r.detail === undefined
        ? ''
        : Object.entries(r.detail)
            .filter(([k]) => k !== 'phases')
            .map(([k, v]) => `${k} ${typeof v === 'number' ? number(v, 3) : String(v)}`)
            .join(', ')
    lines.push(
      `| ${r.stage} | ${number(r.eventsPerSecond)} | ${ratio} | ${r.peakRssMb === undefined ? '' : `${r.peakRssMb} MB`} | ${number(r.cpuMicrosPerEvent, 2)} | ${r.load} | ${notes} |`
    )
  }
  return lines.join('\n')
}
