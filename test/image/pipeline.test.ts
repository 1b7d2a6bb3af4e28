// The whole pipeline from the image, as compose.yaml runs it: migrations, the mirror, three
// stream containers in one group, the simulator and the compactor, against the local broker
// and PostgreSQL. One stream container is killed mid-run and started again; the tables must
// still equal the ground truth. Run by `npm run test:image` (test/image/run.sh), which builds
// the image first; CELLSTREAM_IMAGE names it.
import test, { type ExecutionContext } from 'ava'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cellstream } from '../helpers/cli.ts'
import { serverUrl } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, testTopics, uniqueName } from '../helpers/kafka.ts'
import { closeDb, openDb, type Db } from '../../src/db/pool.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { sleep } from '../../src/lib/processes.ts'
import { type Container, exitCode, freePort, isRunning, logs, podman, runOnce, start } from './podman.ts'
import { IMAGE_TEST_SERVICES } from './services.ts'

const IMAGE = process.env.CELLSTREAM_IMAGE ?? 'localhost/cellstream:test'
const TRAFFIC = [
  '--seed',
  'image-test',
  '--from',
  '2021-02-19T20:00',
  '--to',
  '2021-02-19T23:00',
  '--users',
  '200',
  '--rate',
  '20',
  '--late-ratio',
  '0.01',
  '--bad-ratio',
  '0.01'
]

interface Truth {
  bytes: Array<{ timestamp: string; id: string; value: number; type: string }>
  bytes_hourly: Array<{ timestamp: string; id: string; value: number; type: string }>
  user_quota_limit: Array<{ email: string; usage: number; quota: number; timestamp: string }>
  quota_alerts: Array<{ email: string; usage: number; quota: number; timestamp: string }>
}

test('the pipeline runs from the image and fills every table exactly, with a stream container killed mid-run', async t => {
  const brokers = await kafkaBrokers()
  const { url, db } = await freshDatabase(t)
  const [input, metadata, alerts] = await testTopics(t, [
    { prefix: 'devices', partitions: 6 },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } },
    { prefix: 'quota-alerts', partitions: 1 }
  ])
  const group = uniqueName('group')
  // Teardowns run last first: the containers go before the topics and groups they used.
  cleanUpAfter(t, [group, input!])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-image-'))
  const prefix = uniqueName('cellstream-test')
  const containers: string[] = []
  const volumes = ['state-a', 'state-b', 'state-c', 'archive'].map(name => `${prefix}-${name}`)
  t.teardown(async () => {
    // SIGTERM first, so that streams leave their group even when the test failed midway.
    if (containers.length > 0) await podman(['stop', '--ignore', '--time', '30', ...containers], 120_000)
    if (containers.length > 0) await podman(['rm', '--force', '--ignore', '--time', '0', ...containers])
    await podman(['volume', 'rm', '--force', ...volumes])
    await rm(dir, { recursive: true, force: true })
  })

  // The ground truth of the simulator's records, computed on the host without the engine.
  const file = join(dir, 'records.jsonl')
  t.is((await cellstream(['simulate', ...TRAFFIC, '--out', file])).code, 0)
  const truthRun = await cellstream(['truth', '--in', file, '--partitions', '6', '--users', '200', '--format', 'json'])
  t.is(truthRun.code, 0, truthRun.stderr)
  const truth = JSON.parse(truthRun.stdout) as Truth

  const env = { KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url, CELLSTREAM_GROUP: group }
  const container = (
    service: keyof typeof IMAGE_TEST_SERVICES,
    name: string,
    args: string[],
    extra: Partial<Container> = {}
  ): Container => {
    containers.push(`${prefix}-${name}`)
    return { name: `${prefix}-${name}`, args: [...IMAGE_TEST_SERVICES[service], ...args], env, ...extra }
  }

  const migrate = await runOnce(IMAGE, container('migrate', 'migrate', []))
  t.is(migrate.code, 0, migrate.stderr)
  t.regex(migrate.stdout, /created the database/)

  const archive = `${prefix}-archive:/data/archive`
  const streams = await Promise.all(
    ['a', 'b', 'c'].map(async (id, i) =>
      container(
        'stream',
        `stream-${id}`,
        [
          '--input-topic',
          input!,
          '--metadata-topic',
          metadata!,
          '--alerts-topic',
          alerts!,
          '--idle-timeout',
          '3',
          '--commit-interval',
          '300'
        ],
        {
          env: { ...env, CELLSTREAM_HTTP_PORT: String(await freePort()) },
          volumes: [`${volumes[i]}:/data/state`, archive]
        }
      )
    )
  )
  const mirror = container('mirror', 'mirror', ['--topic', metadata!], {
    env: { ...env, CELLSTREAM_HTTP_PORT: String(await freePort()) }
  })
  // Containers share the host's network here: give each its own port, even one that serves nothing.
  const compactor = container('compactor', 'compactor', ['--lateness', '0', '--interval', '5'], {
    env: { ...env, CELLSTREAM_HTTP_PORT: String(await freePort()) },
    volumes: [archive],
    tmpfs: ['/tmp']
  })
  const simulator = container('simulator', 'simulator', [
    ...TRAFFIC,
    '--speed',
    '180',
    '--topic',
    input!,
    '--provision'
  ])
  for (const c of [mirror, ...streams, compactor, simulator]) await start(IMAGE, c)

  const victim = streams[1]!.name
  try {
    // Kill one stream container once windows reach the table, while traffic still arrives,
    // and start it again as its orchestrator would: it resumes from its volume and the changelog.
    t.true(await until(async () => (await count(db, 'bytes')) > 0, 180_000), 'windows reach the bytes table')
    t.true(await isRunning(simulator.name), 'the simulator is still sending when the stream container is killed')
    t.is((await podman(['kill', '--signal', 'KILL', victim])).code, 0)
    t.is(await exitCode(victim), 137)
    t.is((await podman(['start', victim])).code, 0)
    t.is(await exitCode(simulator.name), 0, await logs(simulator.name))

    const expected = {
      bytes: truth.bytes.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort(),
      bytes_hourly: truth.bytes_hourly.map(r => `${r.timestamp} ${r.type} ${r.id} ${r.value}`).sort(),
      user_quota_limit: truth.user_quota_limit.map(r => `${r.email} ${r.usage} ${r.quota} ${r.timestamp}`).sort(),
      quota_alerts: truth.quota_alerts.map(r => `${r.email} ${r.usage} ${r.quota} ${r.timestamp}`).sort()
    }
    const tables = async (): Promise<typeof expected> => ({
      bytes: await totals(db, 'bytes'),
      bytes_hourly: await totals(db, 'bytes_hourly'),
      user_quota_limit: await quotaRows(db, 'user_quota_limit'),
      quota_alerts: await quotaRows(db, 'quota_alerts')
    })
    let actual = await tables()
    await until(async () => {
      actual = await tables()
      return JSON.stringify(actual) === JSON.stringify(expected)
    }, 300_000)
    t.deepEqual(actual.bytes, expected.bytes, 'bytes: the speed layer, from three stream containers')
    t.deepEqual(
      actual.bytes_hourly,
      expected.bytes_hourly,
      'bytes_hourly: the compactor container, over the archive volume the streams share'
    )
    t.deepEqual(actual.user_quota_limit, expected.user_quota_limit, 'user_quota_limit: the compactor container')
    t.true(expected.quota_alerts.length > 0, 'the traffic has users over quota')
    t.deepEqual(
      actual.quota_alerts,
      expected.quota_alerts,
      "quota_alerts: live alerts from the stream containers, each hour's usage once it closed"
    )

    // What Kubernetes probes, from outside the containers: readiness and liveness.
    for (const c of [streams[0]!, mirror]) {
      for (const path of ['/ready', '/health'])
        t.is((await fetch(`http://127.0.0.1:${c.env!.CELLSTREAM_HTTP_PORT!}${path}`)).status, 200, `${c.name} ${path}`)
    }

    // The image's HEALTHCHECK, inside: /health of the roles that serve HTTP, nothing to probe in the others.
    for (const name of [streams[0]!.name, mirror.name, compactor.name]) {
      const health = await podman(['healthcheck', 'run', name])
      t.is(health.code, 0, `${name}: ${health.stdout}${health.stderr}`)
    }

    // SIGTERM reaches each process through tini: streams commit, leave the group and exit 0.
    for (const c of [...streams, mirror, compactor]) {
      t.is((await podman(['stop', '--time', '60', c.name], 120_000)).code, 0)
      t.is(await exitCode(c.name), 0, `${c.name} exits 0 on SIGTERM`)
    }
    for (const c of streams) t.regex(await logs(c.name), /stopped after \d+ commits/)
    const members = await withAdmin(
      brokers,
      async admin => (await admin.describeGroups({ groups: [group] })).get(group)?.members.size ?? 0
    )
    t.is(members, 0, 'no member is left in the group')
  } finally {
    if (!t.passed) {
      for (const name of containers) {
        const lines = (await logs(name)).trimEnd().split('\n')
        t.log(`last ${Math.min(40, lines.length)} of ${lines.length} lines of ${name}:\n${lines.slice(-40).join('\n')}`)
      }
    }
  }
})

/** A database name of this test, created by the migrate container, dropped at the end. */
async function freshDatabase(t: ExecutionContext): Promise<{ url: string; db: Db }> {
  const name = `cellstream_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const url = serverUrl(name)
  const db = openDb(url)
  t.teardown(async () => {
    await closeDb(db)
    const admin = openDb(serverUrl('postgres'))
    try {
      await admin.none('DROP DATABASE IF EXISTS $1:name WITH (FORCE)', [name])
    } finally {
      await closeDb(admin)
    }
  })
  return { url, db }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true
    await sleep(1000)
  }
  return false
}

function count(db: Db, table: string): Promise<number> {
  return db.one('SELECT count(*)::int AS n FROM $1:name', [table], row => row.n as number)
}

async function totals(db: Db, table: string): Promise<string[]> {
  return (
    await db.map(
      'SELECT "timestamp", id, value, type FROM $1:name',
      [table],
      row => `${iso(row.timestamp as Date)} ${row.type} ${row.id} ${row.value}`
    )
  ).sort()
}

async function quotaRows(db: Db, table: string): Promise<string[]> {
  return (
    await db.map(
      'SELECT email, usage, quota, "timestamp" FROM $1:name',
      [table],
      row => `${row.email} ${row.usage} ${row.quota} ${iso(row.timestamp as Date)}`
    )
  ).sort()
}

function iso(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z')
}
