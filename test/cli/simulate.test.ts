import { spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { partitionCount, withAdmin } from '../../src/kafka/admin.ts'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { kafkaBrokers, readTopic, testTopics, uniqueName } from '../helpers/kafka.ts'
import { waitFor, waitForExit } from '../helpers/wait.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { HAND_FILE, HAND_TRUTH } from '../helpers/hand-file.ts'

const oneLine = (text: string): boolean => text.trim() !== '' && !text.trim().includes('\n')

test('wrong flags are explained in one line with exit code 2', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['simulate', '--rate', 'fast'], /^cellstream: --rate must be a number, got 'fast'/],
    [['simulate', '--bad-ratio', '2'], /^cellstream: --bad-ratio must be between 0 and 1, got 2/],
    [['simulate', '--users', '0'], /^cellstream: --users must be between 1 and 1000000, got 0/],
    [['simulate', '--key', 'antenna'], /^cellstream: --key must be one of none, user, got 'antenna'/],
    [['simulate', '--to', '2026-11-01'], /^cellstream: --to needs --from/],
    [['simulate', '--speed', '60'], /^cellstream: --speed above 1 needs --from/],
    [['simulate', '--from', 'yesterday'], /^cellstream: --from must be an ISO 8601 time/],
    [['simulate', '--from', '1999-01-01', '--to', '1999-02-01'], /^cellstream: --from must be 2000-01-01 or later/],
    [['simulate', '--from', '2026-11-02', '--to', '2026-11-01'], /^cellstream: --to must be after --from/],
    [
      ['simulate', '--from', '2026-11-02', '--to', '2099-01-01'],
      /^cellstream: --to must be at most 300 s ahead of now/
    ],
    [['simulate', '--out', 'x.jsonl', '--key', 'user'], /^cellstream: --key applies to Kafka; a file has no keys/],
    [['simulate', '--bogus'], /^cellstream: unknown option '--bogus'/],
    [['truth'], /^cellstream: required option '--in <file.jsonl>' not specified/],
    [
      ['truth', '--in', 'x.jsonl', '--format', 'xml'],
      /^cellstream: --format must be one of table, json, csv, got 'xml'/
    ],
    [
      ['truth', '--in', 'x.jsonl', '--table', 'bytes', 'nope'],
      /^cellstream: --table must be one of bytes, bytes_hourly, user_quota_limit, quota_alerts, got 'nope'/
    ]
  ]
  const results = await Promise.all(cases.map(([args]) => cellstream(args)))
  for (const [i, [args, message]] of cases.entries()) {
    const result = results[i]!
    t.is(result.code, 2, args.join(' '))
    t.true(oneLine(result.stderr), result.stderr)
    t.regex(result.stderr, message)
  }
})

test('an unreachable broker or database and a missing file are one line each', async t => {
  const kafka = await cellstream(['simulate', '--brokers', '127.0.0.1:1', '--events', '1', '--seed', 'x'])
  t.is(kafka.code, 3)
  t.regex(kafka.stderr, /^cellstream: Kafka is not reachable at 127\.0\.0\.1:1: .*\n$/)
  t.true(oneLine(kafka.stderr))

  const db = await cellstream([
    'simulate',
    '--provision',
    '--database-url',
    'postgres://postgres@127.0.0.1:1/cellstream',
    '--out',
    '/dev/null',
    '--events',
    '0',
    '--seed',
    'x'
  ])
  t.is(db.code, 3)
  t.is(
    db.stderr,
    'cellstream: PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/cellstream: ECONNREFUSED\n'
  )

  const missing = await cellstream(['truth', '--in', '/nonexistent/records.jsonl'])
  t.is(missing.code, 1)
  t.regex(missing.stderr, /^cellstream: cannot read \/nonexistent\/records\.jsonl: .*\n$/)
})

test('simulate --out twice with one seed writes identical files, and truth reads them', async t => {
  const dir = await tempDir(t)
  const args = (name: string): string[] => [
    'simulate',
    '--out',
    join(dir, name),
    '--from',
    '2026-11-02',
    '--to',
    '2026-11-02T06:00',
    '--seed',
    'cli',
    '--bad-ratio',
    '0.02'
  ]
  const first = await cellstream(args('a.jsonl'))
  t.is(first.code, 0, first.stderr)
  t.regex(first.stdout, /^sent \d+ records \(\d+ bad\) to .*a\.jsonl in /)
  t.regex(first.stdout, /bad records listed in .*a\.bad\.jsonl\n$/)
  t.is(first.stderr, '')
  t.is((await cellstream(args('b.jsonl'))).code, 0)
  const [a, b] = await Promise.all([readFile(join(dir, 'a.jsonl')), readFile(join(dir, 'b.jsonl'))])
  t.true(a.length > 0)
  t.true(a.equals(b))
  t.true((await readFile(join(dir, 'a.bad.jsonl'))).equals(await readFile(join(dir, 'b.bad.jsonl'))))

  const truth = await cellstream(['truth', '--in', join(dir, 'a.jsonl'), '--format', 'csv', '--table', 'bytes_hourly'])
  t.is(truth.code, 0, truth.stderr)
  const rows = truth.stdout.trim().split('\n')
  t.is(rows[0], 'timestamp,id,value,type')
  // 6 hours, each with 5 antennas, 5 apps and most of the 20 users.
  t.true(rows.length > 6 * 25, String(rows.length))
  t.regex(truth.stderr, /^\d+ records: \d+ valid \(0 late\), \d+ invalid/)
})

test('truth prints the hand-computed tables as JSON', async t => {
  const path = join(await tempDir(t), 'hand.jsonl')
  await writeFile(path, HAND_FILE)
  const result = await cellstream([
    'truth',
    '--in',
    path,
    '--format',
    'json',
    '--grace',
    '60',
    '--record-time',
    '2026-11-28T00:00:00Z'
  ])
  t.is(result.code, 0, result.stderr)
  t.deepEqual(JSON.parse(result.stdout), {
    summary: HAND_TRUTH.summary,
    bytes: HAND_TRUTH.bytes,
    bytes_hourly: HAND_TRUTH.bytesHourly,
    user_quota_limit: HAND_TRUTH.userQuotaLimit,
    quota_alerts: HAND_TRUTH.quotaAlerts
  })
  const table = await cellstream(['truth', '--in', path, '--table', 'user_quota_limit'])
  t.is(
    table.stdout,
    [
      '15 records: 11 valid (1 late), 4 invalid (empty 1, bytes-out-of-range 1, not-json 1, wrong-type 1)',
      '',
      'user_quota_limit (1 rows)',
      'email           usage  quota  timestamp',
      'fede@gmail.com   5030   5000  2020-09-19T20:00:00Z',
      ''
    ].join('\n')
  )
})

test('simulate --key user produces records keyed by user id to the broker', async t => {
  const brokers = await kafkaBrokers()
  const [topic] = await testTopics(t, [{ prefix: 'cli-simulate', partitions: 2 }])
  const result = await cellstream(
    [
      'simulate',
      '--topic',
      topic!,
      '--key',
      'user',
      '--from',
      '2026-11-02',
      '--to',
      '2026-11-03',
      '--events',
      '300',
      '--seed',
      'k'
    ],
    { KAFKA_BROKERS: brokers.join(',') }
  )
  t.is(result.code, 0, result.stderr)
  t.regex(result.stdout, new RegExp(`^sent 300 records \\(0 bad\\) to topic ${topic} \\(2 partitions\\) in `))
  // The topic read to its end: every record once, keyed by its user.
  const records = await readTopic(topic!)
  t.is(records.length, 300)
  t.deepEqual(
    records.filter(r => r.key?.toString() !== (JSON.parse(r.value!.toString()) as { id: string }).id),
    []
  )
})

test('simulate creates a missing topic with --partitions', async t => {
  const brokers = await kafkaBrokers()
  const topic = uniqueName('cli-created')
  t.teardown(() => withAdmin(brokers, admin => admin.deleteTopics({ topics: [topic] })).catch(() => {}))
  const result = await cellstream(
    [
      'simulate',
      '--topic',
      topic,
      '--partitions',
      '3',
      '--from',
      '2026-11-02',
      '--to',
      '2026-11-03',
      '--events',
      '10',
      '--seed',
      'c'
    ],
    { KAFKA_BROKERS: brokers.join(',') }
  )
  t.is(result.code, 0, result.stderr)
  t.regex(result.stdout, /\(3 partitions\)/)
  t.is(await withAdmin(brokers, admin => partitionCount(admin, topic)), 3)
})

test('--provision upserts the simulated users', async t => {
  const { url, db } = await testDatabase(t)
  const out = join(await tempDir(t), 'none.jsonl')
  const result = await cellstream([
    'simulate',
    '--provision',
    '--users',
    '30',
    '--events',
    '0',
    '--out',
    out,
    '--database-url',
    url,
    '--seed',
    'p'
  ])
  t.is(result.code, 0, result.stderr)
  t.regex(result.stderr, /provisioned 30 users/)
  t.deepEqual(await db.one('SELECT count(*) AS n, max(email) AS last FROM user_metadata'), {
    n: 30,
    last: 'user30@example.com'
  })
  t.is((await db.one('SELECT quota FROM user_metadata WHERE name = $1', ['fede'])).quota, 5000)
})

test('a real-time run stops cleanly on Ctrl-C, with what it sent written out', async t => {
  const out = join(await tempDir(t), 'live.jsonl')
  const bin = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))
  const child = spawn(process.execPath, [bin, 'simulate', '--out', out, '--rate', '50', '--seed', 'live'], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  child.stdout.on('data', chunk => {
    stdout += chunk
  })
  t.teardown(() => child.kill('SIGKILL'))
  // Wait until the first second has been written, then interrupt.
  await waitFor(
    'the first second of records in the file',
    async () =>
      (await stat(out).then(
        s => s.size,
        () => 0
      )) > 0,
    { deadlineMs: 60_000, intervalMs: 100, children: [child] }
  )
  child.kill('SIGINT')
  t.is(await waitForExit('the simulation to stop on SIGINT', child, 60_000), 0)
  const match = /^sent (\d+) records \(0 bad\) to .* stopped\n$/.exec(stdout)
  t.truthy(match, stdout)
  const lines = (await readFile(out, 'utf8')).split('\n')
  t.is(lines.pop(), '')
  t.is(lines.length, Number(match![1]))
})
