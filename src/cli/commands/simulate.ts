import { randomBytes } from 'node:crypto'
import { Command, Option } from 'commander'
import { closeDb, describeDbError, openDb } from '../../db/pool.ts'
import { upsertUsers } from '../../db/provision.ts'
import { UsageError } from '../../lib/errors.ts'
import { parseBrokers, parseChoice, parseInteger, parseNumber } from '../../lib/options.ts'
import { EventEncoder } from '../../simulator/event-json.ts'
import { KafkaSink } from '../../simulator/kafka-sink.ts'
import { MAX_ANTENNAS, MAX_USERS } from '../../simulator/population.ts'
import { type SimulateProgress, type SimulateResult, simulate } from '../../simulator/run.ts'
import { BufferedFile, FileSink, type RecordSink } from '../../simulator/sink.ts'
import { parseUtcSeconds } from '../../simulator/time.ts'
import { Traffic } from '../../simulator/traffic.ts'
import { iso } from '../../truth/ground-truth.ts'
import { DEFAULT_MAX_FUTURE_SECONDS, MIN_TIMESTAMP } from '../../truth/validate.ts'
import { brokersOption, databaseUrlOption, progress } from '../shared-options.ts'

interface SimulateFlags {
  brokers: string
  databaseUrl: string
  topic: string
  partitions: string
  key: string
  out?: string
  badLog?: string
  users: string
  antennas: string
  rate?: string
  from?: string
  to?: string
  speed?: string
  events?: string
  seed?: string
  badRatio: string
  lateRatio: string
  provision?: boolean
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description(
      'send simulated antenna traffic to Kafka (or a file): real time, replayed faster, or a historic backfill'
    )
    .addOption(brokersOption())
    .option('--topic <name>', 'topic to produce to (created if missing)', 'devices')
    .option('--partitions <n>', 'partitions of the topic when it is created', '6')
    .addOption(
      new Option('--key <key>', 'record key: none (null, like the original) or user (the user id)').default('none')
    )
    .option('--out <file.jsonl>', 'write the records to this file instead of Kafka')
    .option(
      '--bad-log <file>',
      'where to list the bad records (default with --out: FILE.bad.jsonl when --bad-ratio > 0)'
    )
    .option('--users <n>', `number of users (the 20 reference users first, up to ${MAX_USERS})`, '20')
    .option('--antennas <n>', `number of antennas (the 5 reference antennas first, up to ${MAX_ANTENNAS})`, '5')
    .option('--rate <events/s>', 'mean events per second of event time (default: one per user per minute)')
    .option('--from <time>', 'first event time, ISO 8601 UTC (default: now)')
    .option('--to <time>', 'end of event time (exclusive); without --speed, backfill [from, to) as fast as possible')
    .option('--speed <x>', 'event time runs this many times faster than the wall clock (default 1: real time)')
    .option('--events <n>', 'stop after this many records')
    .option(
      '--seed <text>',
      'seed of the random generator: the same seed and flags give the same records (default: random, printed)'
    )
    .option('--bad-ratio <r>', 'share of malformed records, 0..1', '0')
    .option('--late-ratio <r>', 'share of valid events stamped 5 to 60 minutes in the past, 0..1', '0')
    .option('--provision', 'upsert the simulated users into user_metadata first')
    .addOption(databaseUrlOption())
    .action(async (flags: SimulateFlags) => {
      await runSimulate(flags)
    })
}

async function runSimulate(flags: SimulateFlags): Promise<void> {
  const users = parseInteger('--users', flags.users, { min: 1, max: MAX_USERS })
  const antennas = parseInteger('--antennas', flags.antennas, { min: 1, max: MAX_ANTENNAS })
  const key = parseChoice('--key', flags.key, ['none', 'user'] as const)
  const partitions = parseInteger('--partitions', flags.partitions, { min: 1, max: 10_000 })
  const rate = flags.rate === undefined ? undefined : parseNumber('--rate', flags.rate, { min: 1e-6, max: 1e8 })
  const speed = flags.speed === undefined ? undefined : parseNumber('--speed', flags.speed, { min: 1e-6, max: 1e9 })
  const events = flags.events === undefined ? undefined : parseInteger('--events', flags.events, { min: 0 })
  const badRatio = parseNumber('--bad-ratio', flags.badRatio, { min: 0, max: 1 })
  const lateRatio = parseNumber('--late-ratio', flags.lateRatio, { min: 0, max: 1 })
  const from = flags.from === undefined ? undefined : parseUtcSeconds('--from', flags.from)
  const to = flags.to === undefined ? undefined : parseUtcSeconds('--to', flags.to)
  const now = Math.floor(Date.now() / 1000)
  if (to !== undefined && from === undefined) throw new UsageError('--to needs --from')
  if (speed !== undefined && speed > 1 && from === undefined)
    throw new UsageError('--speed above 1 needs --from: starting now, event time would run ahead of the clock')
  if (from !== undefined && from < MIN_TIMESTAMP)
    throw new UsageError('--from must be 2000-01-01 or later: older events are invalid')
  if (from !== undefined && to !== undefined && to <= from) throw new UsageError('--to must be after --from')
  // Records are stamped with the time they are sent: events further ahead are invalid.
  if (to !== undefined && to > now + DEFAULT_MAX_FUTURE_SECONDS)
    throw new UsageError(
      `--to must be at most ${DEFAULT_MAX_FUTURE_SECONDS} s ahead of now: events further ahead of the time they are sent are invalid`
    )
  if (flags.out !== undefined && key !== 'none') throw new UsageError('--key applies to Kafka; a file has no keys')
  const brokers = flags.out === undefined ? parseBrokers(flags.brokers) : []
  const seed = flags.seed ?? randomBytes(6).toString('hex')
  if (flags.seed === undefined) progress(`seed ${seed} (pass --seed ${seed} to repeat this run)`)

  const traffic = new Traffic({ seed, users, antennas, rate, badRatio, lateRatio })
  if (flags.provision === true) await provision(flags.databaseUrl, traffic)
  const encoder = new EventEncoder(traffic.population)
  const badLogPath = flags.badLog ?? (flags.out !== undefined && badRatio > 0 ? badLogFor(flags.out) : undefined)
  const badLog = badLogPath === undefined ? undefined : await new BufferedFile(badLogPath).open()
  let sink: RecordSink
  let where: string
  if (flags.out !== undefined) {
    sink = await FileSink.open(flags.out, encoder)
    where = flags.out
  } else {
    const kafka = await KafkaSink.open({ brokers, topic: flags.topic, partitions, keyed: key === 'user', encoder })
    sink = kafka
    where = `topic ${flags.topic} (${kafka.partitions} partitions)`
  }

  const controller = new AbortController()
  const stop = (): void => {
    // A second Ctrl-C does not wait for the flush.
    if (controller.signal.aborted) process.exit(130)
    controller.abort()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  const live = process.stderr.isTTY
  let result: SimulateResult
  try {
    result = await simulate({
      traffic,
      sink,
      from,
      to,
      speed,
      events,
      badLog,
      signal: controller.signal,
      onProgress: live
        ? p => {
            process.stderr.write(`\r${progressLine(p)}\u001b[K`)
          }
        : undefined
    })
    await sink.close()
    await badLog?.close()
  } catch (error) {
    await sink.close().catch(() => {})
    await badLog?.close().catch(() => {})
    throw error
  } finally {
    if (live) process.stderr.write('\r\u001b[K')
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
  const seconds = result.elapsedMs / 1000
  const perSecond = seconds > 0 ? `, ${Math.round(result.records / seconds)}/s` : ''
  console.log(
    `sent ${result.records} records (${result.bad} bad) to ${where} in ${seconds.toFixed(1)} s${perSecond}${result.interrupted ? '; stopped' : ''}`
  )
  if (badLogPath !== undefined) console.log(`bad records listed in ${badLogPath}`)
}

async function provision(url: string, traffic: Traffic): Promise<void> {
  const db = openDb(url)
  try {
    const count = await upsertUsers(db, traffic.population.users)
    progress(`provisioned ${count} users into user_metadata`)
  } catch (error) {
    throw describeDbError(error, url)
  } finally {
    await closeDb(db)
  }
}

/** `traffic.jsonl` → `traffic.bad.jsonl`. */
export function badLogFor(out: string): string {
  return out.endsWith('.jsonl') ? `${out.slice(0, -'.jsonl'.length)}.bad.jsonl` : `${out}.bad.jsonl`
}

function progressLine(p: SimulateProgress): string {
  const rate = p.elapsedMs > 0 ? Math.round((p.records / p.elapsedMs) * 1000) : 0
  return `${p.records} records (${p.bad} bad), event time ${iso(p.second)}, ${rate}/s`
}
