// Seeded simulator input for a scenario, its ground truth (computed by `cellstream truth`,
// without the stream engine), and a paced producer that feeds it while faults are injected.
import { join } from 'node:path'
import { createProducer } from '../../src/kafka/clients.ts'
import { sleep } from '../../src/lib/processes.ts'
import { readRecordFile } from '../../src/simulator/record-file.ts'
import type { BytesRow, QuotaRow, TruthSummary } from '../../src/truth/ground-truth.ts'
import { cellstream } from '../helpers/cli.ts'
import { provisionUsers } from '../helpers/hourly-tables.ts'
import type { Rig } from './rig.ts'

export interface Truth {
  summary: TruthSummary
  bytes: BytesRow[]
  bytes_hourly: BytesRow[]
  user_quota_limit: QuotaRow[]
  quota_alerts: QuotaRow[]
}

export interface TrafficOptions {
  seed: string
  events: number
  users?: number
  /** Events per second of event time: with `events`, how many hours the input spans. */
  rate?: number
  badRatio?: number
  lateRatio?: number
}

export const FROM = '2021-02-19T20:00'

export function rigEnv(rig: Rig): NodeJS.ProcessEnv {
  return { KAFKA_BROKERS: rig.brokers.join(','), DATABASE_URL: rig.url }
}

/** Simulates `events` records into a file in the scenario's folder and provisions their users. */
export async function simulateFile(rig: Rig, options: TrafficOptions): Promise<string> {
  const users = options.users ?? 200
  const file = join(rig.dir, 'records.jsonl')
  const made = await cellstream(
    [
      'simulate',
      '--seed',
      options.seed,
      '--from',
      FROM,
      '--to',
      '2021-03-19T20:00',
      '--events',
      String(options.events),
      '--users',
      String(users),
      '--rate',
      String(options.rate ?? 100),
      '--bad-ratio',
      String(options.badRatio ?? 0.01),
      '--late-ratio',
      String(options.lateRatio ?? 0.01),
      '--out',
      file
    ],
    rigEnv(rig),
    { timeoutMs: 1_800_000 }
  )
  if (made.code !== 0) throw new Error(`simulate failed: ${made.stderr}`)
  await provisionUsers(rig.db, users)
  return file
}

/** The expected tables for `file` as it is fed: record n to partition n % partitions. */
export async function truthOf(rig: Rig, file: string, users = 200): Promise<Truth> {
  const run = await cellstream(
    ['truth', '--in', file, '--partitions', String(rig.partitions), '--users', String(users), '--format', 'json'],
    rigEnv(rig),
    { timeoutMs: 1_800_000 }
  )
  if (run.code !== 0) throw new Error(`truth failed: ${run.stderr}`)
  return JSON.parse(run.stdout) as Truth
}

export interface Feed {
  /** Records acknowledged so far. */
  sent: () => number
  /** Resolves with the number of records once all are acknowledged. */
  done: Promise<number>
}

/**
 * Produces the file to the input topic, record n to partition n % partitions (the spread
 * `truth --partitions` assumes), at about `rate` records per second so that faults land
 * while events flow.
 */
export function feed(rig: Rig, file: string, rate: number): Feed {
  let sent = 0
  const run = async (): Promise<number> => {
    const producer = createProducer(rig.brokers, `${rig.group}-feed`)
    const started = Date.now()
    try {
      let n = 0
      let messages: Array<{ topic: string; partition: number; value: Buffer }> = []
      let bytes = 0
      const flush = async (): Promise<void> => {
        await producer.send({ messages })
        sent += messages.length
        messages = []
        bytes = 0
        const ahead = started + (sent / rate) * 1000 - Date.now()
        if (ahead > 0) await sleep(ahead)
      }
      for await (const payload of readRecordFile(file)) {
        // A large record goes alone: one request's batch per partition stays under the limit.
        if (messages.length >= 500 || (messages.length > 0 && bytes + payload.length > 256 << 10)) await flush()
        messages.push({ topic: rig.input, partition: n++ % rig.partitions, value: payload })
        bytes += payload.length
      }
      if (messages.length > 0) await flush()
      return n
    } finally {
      await producer.close()
    }
  }
  return { sent: () => sent, done: run() }
}
