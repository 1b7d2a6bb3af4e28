import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DuckDBInstance } from '@duckdb/node-api'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, produceRecordFile, readTopic, testTopics, uniqueName } from '../helpers/kafka.ts'
import { pipelineArgs } from '../helpers/stream.ts'
import { decodeLine, encodeLine } from '../../src/simulator/record-file.ts'
import { DEAD_LETTER_HEADERS } from '../../src/runtime/source-task.ts'
import { headerValue } from '../../src/kafka/fetcher.ts'
import { sleep } from '../../src/lib/processes.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))
const PARTITIONS = 6

interface Total {
  timestamp: string
  id: string
  value: number
  type: string
}
interface Truth {
  bytes: Total[]
  summary: { records: number; valid: number; invalid: number; late: number; invalidByReason: Record<string, number> }
}

/** Records that stalled or corrupted the pipeline before, and other hostile shapes, made from a valid record. */
function hostileRecords(valid: string): Array<string | Buffer> {
  const now = Math.floor(Date.now() / 1000)
  const event = JSON.parse(valid) as { bytes: number; timestamp: number; app: string; id: string; antenna_id: string }
  const with_ = (fields: Record<string, unknown>): string => JSON.stringify({ ...event, ...fields })
  const [before, after] = with_({ app: '@@' }).split('@@') as [string, string]
  return [
    with_({ app: 'SKY\u0000PE' }),
    with_({ app: 'A'.repeat(3000) }),
    with_({ app: 'A'.repeat(1_000_000) }),
    // Invalid UTF-8 inside the app name (0xFF can never occur in UTF-8).
    Buffer.concat([Buffer.from(before + 'SK'), Buffer.from([0xff]), Buffer.from('PE' + after)]),
    // Upper-case UUIDs: valid, and one key with their lower-case spelling.
    with_({ id: 'abcdef01-0000-4000-8000-00000000000a', antenna_id: 'aaaaaaaa-0000-0000-0000-00000000000b' }),
    with_({ id: 'ABCDEF01-0000-4000-8000-00000000000A', antenna_id: 'AAAAAAAA-0000-0000-0000-00000000000B' }),
    // Stamped 23 hours ahead of its Kafka timestamp (now).
    with_({ timestamp: now + 23 * 3600 }),
    with_({}).replace(`"bytes":${event.bytes}`, '"bytes":1e400'),
    with_({}).replace(`"bytes":${event.bytes}`, '"bytes":9007199254740993'),
    with_({ app: 'SK\ud800PE' }).replace('\ud800', '\\ud800'),
    with_({}).replace('{', '{"__proto__":{"bytes":1},'),
    '{"__proto__":' + with_({}) + '}',
    '['.repeat(50_000) + ']'.repeat(50_000),
    with_({ deep: JSON.parse('{"a":'.repeat(2000) + '1' + '}'.repeat(2000)) }),
    Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256)),
    Buffer.from([0x7b, 0xc3, 0x28, 0x7d])
  ]
}

test('a stream fed hostile records among independent input stays up, counts every valid event exactly and sends every bad one to <input>-dlq', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata] = await testTopics(t, [
    { prefix: 'devices', partitions: PARTITIONS },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } }
  ])
  const group = uniqueName('group')
  cleanUpAfter(t, [group, `${input}-`])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-hostile-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }

  // Simulated traffic with every kind of bad record the simulator makes, then the hostile
  // records spread through it, one every 400 records.
  const simulated = join(dir, 'simulated.jsonl')
  const made = await cellstream(
    [
      'simulate',
      '--seed',
      'hostile',
      '--from',
      '2021-02-19T20:00',
      '--to',
      '2021-02-19T22:00',
      '--rate',
      '4',
      '--bad-ratio',
      '0.05',
      '--late-ratio',
      '0.02',
      '--out',
      simulated,
      '--provision'
    ],
    env
  )
  t.is(made.code, 0, made.stderr)
  const lines = (await readFile(simulated))
    .toString('latin1')
    .split('\n')
    .filter(line => line !== '')
    .map(line => decodeLine(Buffer.from(line, 'latin1')))
  const hostile = hostileRecords(lines.find(line => line.toString().startsWith('{"bytes"'))!.toString())
  const records: Buffer[] = []
  lines.forEach((line, i) => {
    records.push(line)
    if (i % 400 === 399 && hostile.length > 0) {
      const record = hostile.shift()!
      records.push(typeof record === 'string' ? Buffer.from(record) : record)
    }
  })
  t.is(hostile.length, 0, 'every hostile record is in the input')
  const file = join(dir, 'records.jsonl')
  await writeFile(file, records.map(r => encodeLine(r) + '\n').join(''))
  t.is(await produceRecordFile(input!, file, PARTITIONS), records.length)

  const truthRun = await cellstream(
    ['truth', '--in', file, '--partitions', String(PARTITIONS), '--format', 'json'],
    env
  )
  t.is(truthRun.code, 0, truthRun.stderr)
  const truth = JSON.parse(truthRun.stdout) as Truth
  t.true(truth.summary.invalid > 100 && truth.summary.late > 10)

  const stream = spawn(
    process.execPath,
    [BIN, 'stream', ...pipelineArgs({ input: input!, metadata: metadata!, group, dir, idleTimeout: 3, mirror: true })],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }
  )
  let log = ''
  stream.stderr.on('data', chunk => {
    log += chunk
  })
  t.teardown(() => stream.kill('SIGKILL'))
  const line = (r: Total): string => `${r.timestamp} ${r.type} ${r.id} ${r.value}`
  const deadline = Date.now() + 180_000
  let rows: string[] = []
  while (Date.now() < deadline && stream.exitCode === null) {
    rows = await db.map('SELECT "timestamp", id, value, type FROM bytes', [], row =>
      line({
        timestamp: (row.timestamp as Date).toISOString().replace('.000Z', 'Z'),
        id: row.id,
        value: Number(row.value),
        type: row.type
      })
    )
    if (rows.length >= truth.bytes.length) break
    await sleep(500)
  }
  t.is(stream.exitCode, null, `the stream is still running: ${log}`)
  t.deepEqual(rows.sort(), truth.bytes.map(line).sort(), 'every valid event counted exactly')
  const port = /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(log)?.[1]
  t.is((await fetch(`http://127.0.0.1:${port}/health`)).status, 200)
  t.is((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200)

  // Every bad record is a dead letter, once, with its original bytes and the truth's reason.
  const letters = await readTopic(`${input}-dlq`)
  t.is(letters.length, truth.summary.invalid)
  const reasons: Record<string, number> = {}
  for (const letter of letters) {
    const reason = headerValue(letter, DEAD_LETTER_HEADERS.reason)!.split(':')[0]!
    reasons[reason] = (reasons[reason] ?? 0) + 1
    const partition = Number(headerValue(letter, DEAD_LETTER_HEADERS.partition))
    const offset = Number(headerValue(letter, DEAD_LETTER_HEADERS.offset))
    if (!records[offset * PARTITIONS + partition]!.equals(letter.value ?? Buffer.alloc(0)))
      t.fail(`dead letter ${partition}/${offset} does not hold the original bytes`)
  }
  t.deepEqual(reasons, truth.summary.invalidByReason)
  t.is((await readTopic(`${input}-late`)).length, truth.summary.late, 'every late event is on the late topic')

  // The archive holds every valid event (late ones too) once after deduplication.
  const instance = await DuckDBInstance.create()
  const connection = await instance.connect()
  try {
    const reader = await connection.runAndReadAll(
      `SELECT count(DISTINCT ("partition", "offset")) AS events FROM read_parquet('${join(dir, 'archive')}/year=*/month=*/day=*/hour=*/*.parquet', hive_partitioning = true)`
    )
    t.is(Number(reader.getRowObjectsJS()[0]!.events), truth.summary.valid)
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
  stream.kill('SIGTERM')
  const [code] = await once(stream, 'exit')
  t.is(code, 0, log)
})
