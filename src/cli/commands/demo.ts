// `cellstream demo`: the whole pipeline on this machine, the way an operator would start it:
// a local Kafka (unless KAFKA_BROKERS answers), the schema and users in PostgreSQL, a
// three-hour backfill of simulated traffic, the stream processor (with the metadata mirror),
// live traffic, the hourly compaction of the backfilled hours, and a summary of where to look. Each part runs as its own `cellstream`
// process, so what the demo does is what the commands do.
// A second run resumes: it backfills only from the last event the topic holds to now, so no
// hour is sent twice and the tables stay consistent; `--fresh` starts over from empty.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Command, Option } from 'commander'
import { LocalKafka } from '../../infra/local-kafka.ts'
import { pingKafka, withAdmin } from '../../kafka/admin.ts'
import { createConsumer } from '../../kafka/clients.ts'
import { Fetcher, readToEnd } from '../../kafka/fetcher.ts'
import { resetApplication } from '../../runtime/reset.ts'
import { decodeEvent } from '../../traffic/event-codec.ts'
import { rm } from 'node:fs/promises'
import { migrate } from '../../db/migrate.ts'
import { closeDb, openDb, safeUrl } from '../../db/pool.ts'
import { parseBrokers, parseInteger } from '../../lib/options.ts'
import { CellstreamError, UsageError } from '../../lib/errors.ts'
import { sleep } from '../../lib/processes.ts'
import { brokersOption, databaseUrlOption, progress } from '../shared-options.ts'

const BIN = fileURLToPath(new URL('../../../bin/cellstream.ts', import.meta.url))
const USERS = '200'
const RATE = '40'

interface DemoFlags {
  brokers: string
  databaseUrl: string
  hours: string
  duration?: string
  fresh?: boolean
  namespace?: string
}

/** The topics and group a demo uses: the standard names, or each prefixed with `<namespace>-`. */
function demoNames(namespace: string | undefined): { input: string; group: string; metadata: string; alerts: string } {
  const name = (base: string): string => (namespace === undefined ? base : `${namespace}-${base}`)
  return {
    input: name('devices'),
    group: name('cellstream'),
    metadata: name('user-metadata'),
    alerts: name('quota-alerts')
  }
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run the whole pipeline locally (Kafka, Postgres, simulator, stream processor) and print where to look; Ctrl-C stops it'
    )
    .addOption(new Option('--hours <n>', 'hours of traffic to backfill before going live').default('3'))
    .addOption(
      new Option('--duration <seconds>', 'stop after this many seconds of live traffic (default: until Ctrl-C)')
    )
    .option(
      '--fresh',
      "start over: delete the demo's topics, state, archive and table rows first (default: resume where the last run stopped)"
    )
    .option(
      '--namespace <name>',
      "prefix the demo's topics and group with <name>- (to run one beside another on the same broker)"
    )
    .addOption(brokersOption())
    .addOption(databaseUrlOption())
    .action(async (flags: DemoFlags) => {
      await runDemo(flags)
    })
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const hours = parseInteger('--hours', flags.hours, { min: 1, max: 48 })
  const duration =
    flags.duration === undefined ? undefined : parseInteger('--duration', flags.duration, { min: 0, max: 86_400 })
  const brokers = parseBrokers(flags.brokers)
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), DATABASE_URL: flags.databaseUrl }

  step('1/6', 'Kafka')
  if (
    !(await pingKafka(brokers).then(
      () => true,
      () => false
    ))
  ) {
    if (process.env.KAFKA_BROKERS !== undefined) await pingKafka(brokers)
    const { brokers: started } = await new LocalKafka({ dataDir: './data/kafka', log: progress }).start(1)
    progress(`    local broker at ${started.join(',')} (data in ./data/kafka; 'cellstream kafka stop' stops it)`)
  }

  step('2/6', 'PostgreSQL schema')
  const { applied } = await migrate(flags.databaseUrl)
  progress(
    `    ${safeUrl(flags.databaseUrl)}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema up to date'}`
  )

  const now = Math.floor(Date.now() / 60_000) * 60
  if (flags.namespace !== undefined && !/^[a-z0-9][a-z0-9-]{0,99}$/.test(flags.namespace))
    throw new UsageError(`--namespace must be lower-case letters, digits and dashes, got '${flags.namespace}'`)
  const names = demoNames(flags.namespace)
  const INPUT = names.input
  if (flags.fresh === true) await startOver(brokers, flags.databaseUrl, names)
  // A topic that already holds traffic (an earlier run) is continued, never sent again.
  const last = await lastEventSecond(brokers, INPUT)
  const start = last === undefined ? now - hours * 3600 : Math.max(now - hours * 3600, last + 1)
  const from = new Date(start * 1000).toISOString()
  if (start >= now) {
    step('3/6', `topic ${INPUT} already holds traffic up to now: nothing to backfill (--fresh starts over)`)
  } else {
    const what =
      last === undefined
        ? `${hours} h of traffic`
        : `traffic from ${from.slice(0, 19)}Z, where the topic's last event is, to now (--fresh starts over)`
    step('3/6', `backfill ${what} (${USERS} users, ${RATE} events/s, 1% bad, 1% late) into topic ${INPUT}`)
    await run(
      [
        'simulate',
        '--from',
        from,
        '--to',
        new Date(now * 1000).toISOString(),
        '--users',
        USERS,
        '--rate',
        RATE,
        '--seed',
        `demo-${now}`,
        '--bad-ratio',
        '0.01',
        '--late-ratio',
        '0.01',
        '--provision',
        '--topic',
        INPUT
      ],
      env
    )
  }

  const backfilled = await endOffsets(brokers, INPUT)

  step('4/6', 'stream processor with the metadata mirror (group cellstream, state in ./data/state)')
  const children: ChildProcess[] = []
  const stopAll = async (): Promise<void> => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
    await Promise.all(children.map(child => (child.exitCode === null ? once(child, 'exit') : undefined)))
  }
  process.once('SIGINT', () => {
    void stopAll()
  })
  process.once('SIGTERM', () => {
    void stopAll()
  })
  const stream = background(
    [
      'stream',
      '--mirror',
      '--idle-timeout',
      '10',
      '--input-topic',
      INPUT,
      '--group',
      names.group,
      '--metadata-topic',
      names.metadata,
      '--alerts-topic',
      names.alerts
    ],
    env
  )
  children.push(stream.child)
  const port = await stream.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\/metrics/)

  step('5/6', 'live traffic, in real time')
  children.push(
    background(
      [
        'simulate',
        '--users',
        USERS,
        '--rate',
        RATE,
        '--from',
        new Date(now * 1000).toISOString(),
        '--speed',
        '1',
        '--topic',
        INPUT
      ],
      env
    ).child
  )

  const db = openDb(flags.databaseUrl)
  try {
    progress('    waiting for the stream to process the backfill…')
    await waitForCommitted(brokers, names.group, INPUT, backfilled)
    await sleep(3000) // the windows closed by that commit reach Postgres with the next one
    const rows = await db.one('SELECT count(*) AS n FROM bytes', [], row => row.n as number)
    const closedHour = Math.floor(now / 3600) * 3600
    step('6/6', 'batch layer: compact the closed hours of the archive')
    // The hours this run backfilled (an earlier run compacted the ones before), at least the last closed one.
    const compactFrom = Math.floor(Math.min(start, closedHour - 3600) / 3600) * 3600
    await run(
      [
        'compact',
        '--from',
        new Date(compactFrom * 1000).toISOString(),
        '--to',
        new Date(closedHour * 1000).toISOString()
      ],
      env
    )
    const hourly = await db.one('SELECT count(*) AS n FROM bytes_hourly', [], row => row.n as number)
    const over = await db.any(
      'SELECT email, "timestamp", usage, quota FROM user_quota_limit ORDER BY "timestamp" DESC, usage - quota DESC LIMIT 3'
    )
    const alerts = await db.one('SELECT count(*) AS n FROM quota_alerts', [], row => row.n as number)
    const top = await db.any(`SELECT u.email, sum(b.value) AS bytes FROM bytes b JOIN user_metadata u ON u.id = b.id
      WHERE b.type = 'user_total_bytes' GROUP BY u.email ORDER BY 2 DESC LIMIT 3`)
    console.log(
      [
        '',
        `cellstream is running: ${rows} five-minute totals in Postgres so far (and counting), ${hourly} hourly totals, ${alerts} live quota alerts.`,
        '',
        'Where to look:',
        `  psql ${safeUrl(flags.databaseUrl)} -c 'SELECT * FROM bytes ORDER BY "timestamp" DESC, value DESC LIMIT 20'`,
        `  heaviest users: ${top.map(r => `${r.email} (${r.bytes} bytes)`).join(', ')}`,
        `  over quota:     ${over.map(r => `${r.email} ${(r.timestamp as Date).toISOString().slice(0, 13)}h ${r.usage}/${r.quota}`).join(', ') || 'nobody yet'} (user_quota_limit; live: quota_alerts, topic quota-alerts)`,
        '  archive        ./data/archive/year=/month=/day=/hour=/*.parquet (docs/archive.md); compact more: npx cellstream compact --watch',
        `  metrics        http://127.0.0.1:${port}/metrics   health http://127.0.0.1:${port}/health`,
        `  bad records    topic ${INPUT}-dlq (reason in header cellstream.error.reason); late events: ${INPUT}-late`,
        '  more traffic   npx cellstream simulate --help     replay everything: stop, then npx cellstream reset',
        '',
        duration === undefined
          ? 'Ctrl-C stops the demo (the local Kafka keeps running: npx cellstream kafka stop).'
          : `stopping in ${duration} s`
      ].join('\n')
    )
  } finally {
    await closeDb(db)
  }
  if (duration !== undefined) {
    await Promise.race([sleep(duration * 1000), Promise.all(children.map(child => once(child, 'exit')))])
    await stopAll()
  } else {
    await Promise.all(children.map(child => once(child, 'exit')))
  }
}

function step(number: string, what: string): void {
  progress(`[${number}] ${what}`)
}

/** Runs a cellstream command to completion, its output shown indented. */
async function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { child } = background(args, env)
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new CellstreamError('CS_DEMO', `'cellstream ${args[0]}' failed (exit ${code})`)
}

function background(
  args: string[],
  env: NodeJS.ProcessEnv
): { child: ChildProcess; waitFor: (pattern: RegExp) => Promise<string> } {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let seen = ''
  const show = (chunk: Buffer): void => {
    const text = chunk.toString()
    seen += text
    for (const line of text.split('\n'))
      if (line.trim() !== '' && !line.startsWith('info: restored')) progress(`    ${args[0]}: ${line}`)
  }
  child.stdout!.on('data', show)
  child.stderr!.on('data', show)
  return {
    child,
    waitFor: async pattern => {
      for (;;) {
        const match = pattern.exec(seen)
        if (match !== null) return match[1]!
        if (child.exitCode !== null)
          throw new CellstreamError('CS_DEMO', `'cellstream ${args[0]}' stopped (exit ${child.exitCode})`)
        await sleep(200)
      }
    }
  }
}

async function endOffsets(brokers: string[], topic: string): Promise<bigint[]> {
  const consumer = createConsumer(brokers, 'cellstream-demo', 'cellstream-demo')
  try {
    return await new Fetcher(consumer).endOffsets(topic)
  } finally {
    await consumer.close(true)
  }
}

/** Waits until `group` has committed at least `ends` on every partition of `topic`. */
async function waitForCommitted(brokers: string[], group: string, topic: string, ends: bigint[]): Promise<void> {
  for (;;) {
    const groups = await withAdmin(brokers, admin => admin.listConsumerGroupOffsets({ groups: [group] }))
    const committed = groups[0]?.topics.find(t => t.name === topic)?.partitions ?? []
    if (ends.every((end, p) => (committed.find(c => c.partitionIndex === p)?.committedOffset ?? -1n) >= end)) return
    await sleep(1000)
  }
}

/** The latest event time (epoch seconds) among the last records of each partition of `topic`; undefined when it has none. */
async function lastEventSecond(brokers: string[], topic: string): Promise<number | undefined> {
  const exists = await withAdmin(brokers, async admin => (await admin.listTopics()).includes(topic))
  if (!exists) return undefined
  const consumer = createConsumer(brokers, 'cellstream-demo', 'cellstream-demo')
  try {
    const fetcher = new Fetcher(consumer)
    const ends = await fetcher.endOffsets(topic)
    let latest: number | undefined
    const from = new Map(ends.map((end, partition) => [partition, end > 200n ? end - 200n : 0n]))
    for await (const batch of readToEnd(fetcher, topic, from)) {
      for (const record of batch) {
        try {
          const { timestamp } = decodeEvent(record.value ?? Buffer.alloc(0))
          if (latest === undefined || timestamp > latest) latest = timestamp
        } catch {
          // a bad record says nothing of where the traffic stopped
        }
      }
    }
    return latest
  } finally {
    await consumer.close(true)
  }
}

/** Deletes what earlier demo runs left: its topics, the stream's group and state, the archive, the tables' rows. */
async function startOver(brokers: string[], databaseUrl: string, names: ReturnType<typeof demoNames>): Promise<void> {
  progress("    --fresh: deleting the demo's topics, state, archive and table rows")
  await withAdmin(brokers, async admin => {
    await resetApplication(admin, names.group, ['./data/state'])
    const topics = (await admin.listTopics()).filter(topic =>
      [names.input, `${names.input}-dlq`, `${names.input}-late`, names.alerts].includes(topic)
    )
    if (topics.length > 0) await admin.deleteTopics({ topics })
    // Deletion completes in the background: the backfill must not find the old topic.
    while ((await admin.listTopics()).some(topic => topics.includes(topic))) await sleep(200)
  })
  await rm('./data/archive', { recursive: true, force: true })
  const db = openDb(databaseUrl)
  try {
    await db.none('TRUNCATE bytes, bytes_hourly, user_quota_limit, quota_alerts')
  } finally {
    await closeDb(db)
  }
}
