// `cellstream demo`: the whole pipeline on this machine, the way an operator would start it:
// a local Kafka (unless KAFKA_BROKERS answers), the schema and users in PostgreSQL, a
// three-hour backfill of simulated traffic, the stream processor (with the metadata mirror),
// live traffic, the hourly compaction of the backfilled hours, and a summary of where to look. Each part runs as its own `cellstream`
// process, so what the demo does is what the commands do.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Command, Option } from 'commander'
import { LocalKafka } from '../../infra/local-kafka.ts'
import { pingKafka, withAdmin } from '../../kafka/admin.ts'
import { createConsumer } from '../../kafka/clients.ts'
import { Fetcher } from '../../kafka/fetcher.ts'
import { migrate } from '../../db/migrate.ts'
import { closeDb, openDb, safeUrl } from '../../db/pool.ts'
import { parseBrokers, parseInteger } from '../../lib/options.ts'
import { CellstreamError } from '../../lib/errors.ts'
import { sleep } from '../../lib/processes.ts'
import { brokersOption, databaseUrlOption, progress } from '../shared-options.ts'

const BIN = fileURLToPath(new URL('../../../bin/cellstream.ts', import.meta.url))
const USERS = '200'
const RATE = '40'

interface DemoFlags { brokers: string, databaseUrl: string, hours: string, duration?: string }

export function demoCommand (): Command {
  return new Command('demo')
    .description('run the whole pipeline locally (Kafka, Postgres, simulator, stream processor) and print where to look; Ctrl-C stops it')
    .addOption(new Option('--hours <n>', 'hours of traffic to backfill before going live').default('3'))
    .addOption(new Option('--duration <seconds>', 'stop after this many seconds of live traffic (default: until Ctrl-C)'))
    .addOption(brokersOption())
    .addOption(databaseUrlOption())
    .action(async (flags: DemoFlags) => { await runDemo(flags) })
}

async function runDemo (flags: DemoFlags): Promise<void> {
  const hours = parseInteger('--hours', flags.hours, { min: 1, max: 48 })
  const duration = flags.duration === undefined ? undefined : parseInteger('--duration', flags.duration, { min: 0, max: 86_400 })
  const brokers = parseBrokers(flags.brokers)
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), DATABASE_URL: flags.databaseUrl }

  step('1/6', 'Kafka')
  if (!(await pingKafka(brokers).then(() => true, () => false))) {
    if (process.env.KAFKA_BROKERS !== undefined) await pingKafka(brokers)
    const { brokers: started } = await new LocalKafka({ dataDir: './data/kafka', log: progress }).start(1)
    progress(`    local broker at ${started.join(',')} (data in ./data/kafka; 'cellstream kafka stop' stops it)`)
  }

  step('2/6', 'PostgreSQL schema')
  const { applied } = await migrate(flags.databaseUrl)
  progress(`    ${safeUrl(flags.databaseUrl)}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema up to date'}`)

  const now = Math.floor(Date.now() / 60_000) * 60
  const from = new Date((now - hours * 3600) * 1000).toISOString()
  step('3/6', `backfill ${hours} h of traffic (${USERS} users, ${RATE} events/s, 1% bad, 1% late) into topic devices`)
  await run(['simulate', '--from', from, '--to', new Date(now * 1000).toISOString(), '--users', USERS, '--rate', RATE, '--seed', `demo-${now}`, '--bad-ratio', '0.01', '--late-ratio', '0.01', '--provision'], env)

  const backfilled = await endOffsets(brokers, 'devices')

  step('4/6', 'stream processor with the metadata mirror (group cellstream, state in ./data/state)')
  const children: ChildProcess[] = []
  const stopAll = async (): Promise<void> => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
    await Promise.all(children.map(child => child.exitCode === null ? once(child, 'exit') : undefined))
  }
  process.once('SIGINT', () => { void stopAll() })
  process.once('SIGTERM', () => { void stopAll() })
  const stream = background(['stream', '--mirror', '--idle-timeout', '10'], env)
  children.push(stream.child)
  const port = await stream.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\/metrics/)

  step('5/6', 'live traffic, in real time')
  children.push(background(['simulate', '--users', USERS, '--rate', RATE, '--from', new Date(now * 1000).toISOString(), '--speed', '1'], env).child)

  const db = openDb(flags.databaseUrl)
  try {
    progress('    waiting for the stream to process the backfill…')
    await waitForCommitted(brokers, 'cellstream', 'devices', backfilled)
    await sleep(3000) // the windows closed by that commit reach Postgres with the next one
    const rows = await db.one('SELECT count(*) AS n FROM bytes', [], row => row.n as number)
    const closedHour = Math.floor(now / 3600) * 3600
    step('6/6', 'batch layer: compact the closed hours of the archive')
    await run(['compact', '--from', from, '--to', new Date(closedHour * 1000).toISOString()], env)
    const hourly = await db.one('SELECT count(*) AS n FROM bytes_hourly', [], row => row.n as number)
    const over = await db.any('SELECT email, "timestamp", usage, quota FROM user_quota_limit ORDER BY "timestamp" DESC, usage - quota DESC LIMIT 3')
    const alerts = await db.one('SELECT count(*) AS n FROM quota_alerts', [], row => row.n as number)
    const top = await db.any(`SELECT u.email, sum(b.value) AS bytes FROM bytes b JOIN user_metadata u ON u.id = b.id
      WHERE b.type = 'user_total_bytes' GROUP BY u.email ORDER BY 2 DESC LIMIT 3`)
    console.log([
      '',
      `cellstream is running: ${rows} five-minute totals in Postgres so far (and counting), ${hourly} hourly totals, ${alerts} live quota alerts.`,
      '',
      'Where to look:',
      `  psql ${safeUrl(flags.databaseUrl)} -c 'SELECT * FROM bytes ORDER BY "timestamp" DESC, value DESC LIMIT 20'`,
      `  heaviest users: ${top.map(r => `${r.email} (${r.bytes} bytes)`).join(', ')}`,
      `  over quota:     ${over.map(r => `${r.email} ${(r.timestamp as Date).toISOString().slice(0, 13)}h ${r.usage}/${r.quota}`).join(', ') || 'nobody yet'} (user_quota_limit; live: quota_alerts, topic quota-alerts)`,
      '  archive        ./data/archive/year=/month=/day=/hour=/*.parquet (docs/archive.md); compact more: npx cellstream compact --watch',
      `  metrics        http://127.0.0.1:${port}/metrics   health http://127.0.0.1:${port}/health`,
      '  bad records    topic devices-dlq (reason in header cellstream.error.reason); late events: devices-late',
      '  more traffic   npx cellstream simulate --help     replay everything: stop, then npx cellstream reset',
      '',
      duration === undefined ? 'Ctrl-C stops the demo (the local Kafka keeps running: npx cellstream kafka stop).' : `stopping in ${duration} s`
    ].join('\n'))
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

function step (number: string, what: string): void {
  progress(`[${number}] ${what}`)
}

/** Runs a cellstream command to completion, its output shown indented. */
async function run (args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { child } = background(args, env)
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new CellstreamError('CS_DEMO', `'cellstream ${args[0]}' failed (exit ${code})`)
}

function background (args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess, waitFor: (pattern: RegExp) => Promise<string> } {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let seen = ''
  const show = (chunk: Buffer): void => {
    const text = chunk.toString()
    seen += text
    for (const line of text.split('\n')) if (line.trim() !== '' && !line.startsWith('info: restored')) progress(`    ${args[0]}: ${line}`)
  }
  child.stdout!.on('data', show)
  child.stderr!.on('data', show)
  return {
    child,
    waitFor: async pattern => {
      for (;;) {
        const match = pattern.exec(seen)
        if (match !== null) return match[1]!
        if (child.exitCode !== null) throw new CellstreamError('CS_DEMO', `'cellstream ${args[0]}' stopped (exit ${child.exitCode})`)
        await sleep(200)
      }
    }
  }
}

async function endOffsets (brokers: string[], topic: string): Promise<bigint[]> {
  const consumer = createConsumer(brokers, 'cellstream-demo', 'cellstream-demo')
  try {
    return await new Fetcher(consumer).endOffsets(topic)
  } finally {
    await consumer.close(true)
  }
}

/** Waits until `group` has committed at least `ends` on every partition of `topic`. */
async function waitForCommitted (brokers: string[], group: string, topic: string, ends: bigint[]): Promise<void> {
  for (;;) {
    const groups = await withAdmin(brokers, admin => admin.listConsumerGroupOffsets({ groups: [group] }))
    const committed = groups[0]?.topics.find(t => t.name === topic)?.partitions ?? []
    if (ends.every((end, p) => (committed.find(c => c.partitionIndex === p)?.committedOffset ?? -1n) >= end)) return
    await sleep(1000)
  }
}
