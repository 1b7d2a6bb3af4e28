import { stat } from 'node:fs/promises'
import { Command, Option } from 'commander'
import { parseChoice, parseInteger } from '../../lib/options.ts'
import { makeUsers, MAX_USERS } from '../../simulator/population.ts'
import { parseUtcSeconds } from '../../simulator/time.ts'
import { DEFAULT_GRACE_SECONDS } from '../../truth/ground-truth.ts'
import { FORMATS, TABLES, formatTruth, summaryLine, type TableName } from '../../truth/format.ts'
import { truthFromFile } from '../../truth/from-file.ts'

interface TruthFlags {
  in: string
  grace: string
  format: string
  table?: string[]
  users: string
  partitions: string
  recordTime?: string
  maxFuture: string
}

export function truthCommand(): Command {
  return new Command('truth')
    .description('print the exact expected 5-minute totals, hourly totals and users over quota for a record file')
    .requiredOption('--in <file.jsonl>', 'record file, as `simulate --out` writes it (- for stdin)')
    .option('--grace <seconds>', 'seconds a window waits for late records', String(DEFAULT_GRACE_SECONDS))
    .addOption(new Option('--format <format>', `output format: ${FORMATS.join(', ')}`).default('table'))
    .addOption(new Option('--table <name...>', `only these tables: ${TABLES.join(', ')}`))
    .option('--users <n>', 'quotas of the users `simulate --users N` generates (the 20 reference users first)', '20')
    .option(
      '--partitions <n>',
      "compute lateness per partition, record n going to partition n % P like simulate's null keys",
      '1'
    )
    .option(
      '--record-time <time>',
      'the Kafka timestamp the records were sent with, ISO 8601 UTC, from which --max-future is measured (default: now)'
    )
    .option('--max-future <seconds>', "how far an event may be ahead of its record's Kafka timestamp", '300')
    .action(async (flags: TruthFlags) => {
      await runTruth(flags)
    })
}

async function runTruth(flags: TruthFlags): Promise<void> {
  const graceSeconds = parseInteger('--grace', flags.grace, { min: 0, max: 7 * 86_400 })
  const format = parseChoice('--format', flags.format, FORMATS)
  const tables = (flags.table ?? [...TABLES]).map(t => parseChoice<TableName>('--table', t, TABLES))
  const users = makeUsers(parseInteger('--users', flags.users, { min: 0, max: MAX_USERS }))
  const partitions = parseInteger('--partitions', flags.partitions, { min: 1, max: 10_000 })
  const recordSeconds = flags.recordTime === undefined ? undefined : parseUtcSeconds('--record-time', flags.recordTime)
  const maxFutureSeconds = parseInteger('--max-future', flags.maxFuture, { min: 0, max: 10 * 365 * 86_400 })

  const size =
    flags.in === '-'
      ? undefined
      : await stat(flags.in).then(
          s => s.size,
          () => undefined
        )
  const live = process.stderr.isTTY && size !== undefined
  let lastReport = 0
  const onBytes = live
    ? (bytes: number): void => {
        const now = Date.now()
        if (now - lastReport < 1000) return
        lastReport = now
        process.stderr.write(
          `\rread ${mb(bytes)} of ${mb(size)} MB (${Math.floor((bytes / Math.max(size, 1)) * 100)}%)\u001b[K`
        )
      }
    : undefined
  const result = await truthFromFile(flags.in, {
    graceSeconds,
    users,
    partitions,
    recordSeconds,
    maxFutureSeconds,
    onBytes
  })
  if (live) process.stderr.write('\r\u001b[K')
  process.stdout.write(formatTruth(result, format, tables))
  if (format === 'csv') process.stderr.write(summaryLine(result))
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(0)
}
