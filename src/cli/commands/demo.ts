// `cellstream demo`: the whole pipeline on this machine, the way an operator would start it: a
// local Kafka (unless KAFKA_BROKERS answers), the schema and users in PostgreSQL, the
// dashboard, a three-hour backfill of simulated traffic, the stream processor (with the
// metadata mirror), live traffic and the batch layer (the closed hours at once, then every hour
// of the archive once due); then a summary of where to look, and a status line every 10 s. Each
// part runs as its own `cellstream` process, so what the demo does is what the commands do;
// their logs are in ./data/logs.
// A second run resumes: it backfills only from the last event the topic holds to now, so no
// hour is sent twice and the tables stay consistent; `--fresh` starts over from empty.
import { Command, Option } from 'commander'
import { LocalKafka } from '../../infra/local-kafka.ts'
import { pingKafka } from '../../kafka/admin.ts'
import { migrate } from '../../db/migrate.ts'
import { closeDb, openDb, safeUrl } from '../../db/pool.ts'
import { parseBrokers, parseInteger } from '../../lib/options.ts'
import { UsageError } from '../../lib/errors.ts'
import { sleep } from '../../lib/processes.ts'
import type { Snapshot } from '../../web/snapshot.ts'
import { statusLine } from '../../web/status-line.ts'
import { ChildCommands } from '../child-command.ts'
import { demoNames, endOffsets, lastEventSecond, startOver, waitForCommitted } from './demo-state.ts'
import {
  brokersOption,
  databaseUrlOption,
  kafkaSecurityEnvironment,
  progress,
  type KafkaSecurityFlags
} from '../shared-options.ts'

// About one message per user every three minutes: with the reference quotas that puts about
// 5 to 15 % of the users over quota in an hour, depending on the hour of the day
// (docs/simulator.md).
const USERS = '2000'
const RATE = '10'
const LOG_DIR = './data/logs'
const STATUS_EVERY_MS = 10_000

interface DemoFlags extends KafkaSecurityFlags {
  brokers: string
  databaseUrl: string
  hours: string
  duration?: string
  httpPort: string
  fresh?: boolean
  namespace?: string
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run the whole pipeline locally (Kafka, Postgres, dashboard, simulator, stream processor, batch layer), print where to look, then a status line every 10 s; Ctrl-C stops it'
    )
    .addOption(new Option('--hours <n>', 'hours of traffic to backfill before going live').default('3'))
    .addOption(
      new Option('--duration <seconds>', 'stop after this many seconds of live traffic (default: until Ctrl-C)')
    )
    .addOption(new Option('--http-port <port>', 'port of the dashboard; 0 picks a free one').default('8080'))
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
  const httpPort = parseInteger('--http-port', flags.httpPort, { min: 0, max: 65_535 })
  if (flags.namespace !== undefined && !/^[a-z0-9][a-z0-9-]{0,99}$/.test(flags.namespace))
    throw new UsageError(`--namespace must be lower-case letters, digits and dashes, got '${flags.namespace}'`)
  const names = demoNames(flags.namespace)
  const brokers = parseBrokers(flags.brokers)
  // The parts run as commands of their own: what this one was given by flag reaches them by
  // variable. The demo's archive is ./data/archive, which it shows and deletes with --fresh: an
  // archive URL in the environment is for the commands run by hand.
  const env = {
    ...process.env,
    ...kafkaSecurityEnvironment(flags),
    KAFKA_BROKERS: brokers.join(','),
    DATABASE_URL: flags.databaseUrl,
    ARCHIVE_URL: ''
  }

  step('1/7', 'Kafka')
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

  step('2/7', 'PostgreSQL schema')
  const { applied } = await migrate(flags.databaseUrl)
  progress(
    `    ${safeUrl(flags.databaseUrl)}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema up to date'}`
  )
  if (flags.fresh === true) await startOver(brokers, flags.databaseUrl, names)

  const parts = new ChildCommands(env, LOG_DIR)
  const stop = (): void => {
    void parts.stopAll()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    step('3/7', 'dashboard')
    const web = parts.start('web', [
      'web',
      '--http-port',
      String(httpPort),
      '--group',
      names.group,
      '--input-topic',
      names.input
    ])
    const dashboard = await web.waitFor(/dashboard on (http:\/\/\S+)/)
    progress(`    dashboard: ${dashboard}`)

    // A topic that already holds traffic (an earlier run) is continued, never sent again.
    const now = Math.floor(Date.now() / 60_000) * 60
    const last = await lastEventSecond(brokers, names.input)
    const start = last === undefined ? now - hours * 3600 : Math.max(now - hours * 3600, last + 1)
    const from = new Date(start * 1000).toISOString()
    if (start >= now) {
      step('4/7', `topic ${names.input} already holds traffic up to now: nothing to backfill (--fresh starts over)`)
    } else {
      const what =
        last === undefined
          ? `${hours} h of traffic`
          : `traffic from ${from.slice(0, 19)}Z, where the topic's last event is, to now (--fresh starts over)`
      step('4/7', `backfill ${what} (${USERS} users, ${RATE} events/s, 1% bad, 1% late) into topic ${names.input}`)
      await parts.run('backfill', [
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
        names.input
      ])
      if (parts.stopping) return
    }
    const backfilled = await endOffsets(brokers, names.input)

    step('5/7', `stream processor with the metadata mirror (group ${names.group}, state in ./data/state)`)
    const stream = parts.start('stream', [
      'stream',
      '--mirror',
      '--idle-timeout',
      '10',
      '--input-topic',
      names.input,
      '--group',
      names.group,
      '--metadata-topic',
      names.metadata,
      '--alerts-topic',
      names.alerts
    ])
    const streamPort = stream.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\/metrics/)
    streamPort.catch(() => {}) // awaited below, unless the demo stops first
    step('6/7', 'live traffic, in real time')
    parts.start('simulate', [
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
      names.input
    ])
    progress('    waiting for the stream to process the backfill…')
    await waitForCommitted(brokers, names.group, names.input, backfilled, () => parts.stopping)
    if (parts.stopping) return
    await sleep(3000) // the windows closed by that commit reach Postgres with the next one

    step(
      '7/7',
      'batch layer: the closed hours now, then every hour of the archive once due (10 minutes after it ends), and again when late events arrive'
    )
    // The hours this run backfilled (an earlier run compacted the ones before) and the hour
    // before them, which holds only late events; at least the last closed one.
    const closedHour = Math.floor(now / 3600) * 3600
    const compactFrom = Math.floor(Math.min(start, closedHour - 3600) / 3600) * 3600 - 3600
    await parts.run('compact', [
      'compact',
      '--from',
      new Date(compactFrom * 1000).toISOString(),
      '--to',
      new Date(closedHour * 1000).toISOString()
    ])
    if (parts.stopping) return
    parts.start('compact-watch', ['compact', '--watch'])
    await summary(flags.databaseUrl, names, dashboard, await streamPort, duration)

    const deadline = duration === undefined ? Infinity : Date.now() + duration * 1000
    const exited = parts.exited().then(() => true)
    while (!parts.stopping && Date.now() < deadline) {
      if (await Promise.race([sleep(Math.min(STATUS_EVERY_MS, deadline - Date.now())).then(() => false), exited])) break
      if (!parts.stopping && Date.now() < deadline) progress(await status(dashboard))
    }
  } finally {
    await parts.stopAll()
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

/** What the pipeline computed so far, and where to look. */
async function summary(
  databaseUrl: string,
  names: ReturnType<typeof demoNames>,
  dashboard: string,
  streamPort: string,
  duration: number | undefined
): Promise<void> {
  const db = openDb(databaseUrl)
  try {
    const rows = await db.one('SELECT count(*) AS n FROM bytes', [], row => row.n as number)
    const hourly = await db.one('SELECT count(*) AS n FROM bytes_hourly', [], row => row.n as number)
    const alerts = await db.one('SELECT count(*) AS n FROM quota_alerts', [], row => row.n as number)
    const top = await db.any(`SELECT u.email, sum(b.value) AS bytes FROM bytes b JOIN user_metadata u ON u.id = b.id
      WHERE b.type = 'user_total_bytes' GROUP BY u.email ORDER BY 2 DESC LIMIT 3`)
    const input = names.input === 'devices' ? '' : ` --input-topic ${names.input}`
    const alertsTopic = names.alerts === 'quota-alerts' ? '' : ` --topic ${names.alerts}`
    console.log(
      [
        '',
        `cellstream is running: ${rows} five-minute totals in Postgres so far (and counting), ${hourly} hourly totals, ${alerts} live quota alerts.`,
        '',
        'Where to look:',
        `  dashboard      ${dashboard}`,
        `  psql ${safeUrl(databaseUrl)} -c 'SELECT * FROM bytes ORDER BY "timestamp" DESC, value DESC LIMIT 20'`,
        `  heaviest users ${top.map(r => `${r.email} (${r.bytes} bytes)`).join(', ')}`,
        `  over quota     tables quota_alerts (live) and user_quota_limit (hourly); npx cellstream tail quota-alerts${alertsTopic}`,
        `  bad records    npx cellstream tail dead-letters${input} (reason and source of each); late events: npx cellstream tail late-events${input}`,
        '  archive        ./data/archive/year=/month=/day=/hour=/*.parquet (docs/archive.md)',
        `  metrics        http://127.0.0.1:${streamPort}/metrics   health /health and /ready`,
        `  logs           ${LOG_DIR}/<part>.log (here: their warnings and results; --log-level debug: everything)`,
        '  more traffic   npx cellstream simulate --help     replay everything: stop, then npx cellstream reset',
        '',
        duration === undefined
          ? 'Ctrl-C stops the demo (the local Kafka keeps running: npx cellstream kafka stop); run it again to resume, with --fresh to start over.'
          : `stopping in ${duration} s`,
        `A status line follows every ${STATUS_EVERY_MS / 1000} s.`,
        ''
      ].join('\n')
    )
  } finally {
    await closeDb(db)
  }
}

function step(number: string, what: string): void {
  progress(`[${number}] ${what}`)
}

/** The status line of the dashboard's latest snapshot. */
async function status(dashboard: string): Promise<string> {
  try {
    const response = await fetch(new URL('/api/snapshot', dashboard), { signal: AbortSignal.timeout(5000) })
    if (!response.ok) return `status: the dashboard answers ${response.status}`
    return statusLine((await response.json()) as Snapshot)
  } catch (error) {
    return `status: the dashboard does not answer (${error instanceof Error ? error.message : String(error)})`
  }
}
