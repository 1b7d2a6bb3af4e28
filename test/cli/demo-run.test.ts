// `cellstream demo` as a user runs it: it starts every part, prints the dashboard's URL, the
// summary and status lines, and stops every part on SIGINT (Ctrl-C) or SIGTERM, leaving the
// broker and PostgreSQL running and nothing of its own behind but its namespaced topics and
// its database (both removed by the test).
import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readlink, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { logLines } from '../helpers/cli.ts'
import { serverUrl, testDatabase } from '../helpers/db.ts'
import { exitReason, waitFor } from '../helpers/wait.ts'
import { cleanUpAfter, kafkaBrokers, uniqueName } from '../helpers/kafka.ts'
import { closeDb, openDb } from '../../src/db/pool.ts'
import { pingKafka, withAdmin } from '../../src/kafka/admin.ts'

const BIN = fileURLToPath(new URL('../../bin/cellstream.ts', import.meta.url))
const STATUS = /^events\/s in \S+ out \S+ · lag \S+ · windows written \S+ · dead letters \S+ · late \S+ · alerts \S+/

/** The processes running in `dir`: the demo's parts run where it was started. */
async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined)
    if (cwd === dir) pids.push(Number(entry))
  }
  return pids
}

/** What a demo outside its namespace could touch: the default topics and groups, the databases. */
async function outside(brokers: string[]): Promise<{ topics: string[]; groups: string[]; databases: string[] }> {
  const standard = (name: string): boolean =>
    ['devices', 'devices-dlq', 'devices-late', 'user-metadata', 'quota-alerts'].includes(name) ||
    name.startsWith('cellstream-') ||
    name === 'cellstream'
  const { topics, groups } = await withAdmin(brokers, async admin => ({
    topics: (await admin.listTopics()).filter(standard).sort(),
    groups: [...(await admin.listGroups()).keys()].filter(standard).sort()
  }))
  const admin = openDb(serverUrl('postgres'))
  try {
    // Other tests make and drop databases of their own meanwhile.
    const databases = await admin.map(
      "SELECT datname FROM pg_database WHERE datname NOT LIKE 'cellstream\\_test\\_%' ORDER BY datname",
      [],
      row => row.datname as string
    )
    return { topics, groups, databases }
  } finally {
    await closeDb(admin)
  }
}

async function runThenStop(t: ExecutionContext, signal: 'SIGINT' | 'SIGTERM'): Promise<void> {
  const brokers = await kafkaBrokers()
  const { url } = await testDatabase(t)
  const namespace = uniqueName('demo')
  cleanUpAfter(t, [namespace])
  const cwd = await realpath(await mkdtemp(join(tmpdir(), 'cellstream-demo-')))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const before = await outside(brokers)

  const demo = spawn(process.execPath, [BIN, 'demo', '--hours', '1', '--http-port', '0', '--namespace', namespace], {
    cwd,
    env: { ...process.env, KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(async () => {
    demo.kill('SIGKILL')
    for (const pid of await processesIn(cwd)) process.kill(pid, 'SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  demo.stdout.on('data', chunk => (stdout += chunk))
  demo.stderr.on('data', chunk => (stderr += chunk))
  const messages = (): string[] => logLines(stderr).map(line => line.msg)
  const failed = (): string | undefined => {
    const reason = exitReason(demo)
    return reason === undefined ? undefined : `${reason}: ${stderr}`
  }

  const dashboard = await waitFor(
    'the demo to print its dashboard',
    () =>
      messages()
        .map(msg => /^\s+dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(msg)?.[1])
        .find(found => found !== undefined),
    { deadlineMs: 120_000, failed }
  )
  await waitFor(
    'the demo to print two status lines',
    () => (messages().filter(msg => STATUS.test(msg)).length >= 2 ? true : undefined),
    {
      deadlineMs: 600_000,
      intervalMs: 1000,
      failed
    }
  )
  t.regex(stdout, /^cellstream is running: \d+ five-minute totals in Postgres so far/m)
  t.true(stdout.includes(`  dashboard      ${dashboard}\n`), stdout)
  t.is((await fetch(dashboard)).status, 200)
  const parts = (await processesIn(cwd)).filter(pid => pid !== demo.pid)
  t.is(parts.length, 4, 'the dashboard, the stream, live traffic and the compactor run')

  demo.kill(signal)
  await waitFor(`the demo to exit after ${signal}`, () => (exitReason(demo) !== undefined ? true : undefined), {
    deadlineMs: 120_000
  })
  t.is(demo.exitCode, 0, stderr)
  t.deepEqual(await processesIn(cwd), [], 'no part of the demo runs on')
  await t.throwsAsync(fetch(dashboard), undefined, 'the dashboard is gone')
  const group = await withAdmin(brokers, admin => admin.describeGroups({ groups: [`${namespace}-cellstream`] }))
  t.is(group.get(`${namespace}-cellstream`)?.members.size, 0, 'the stream left its group')
  await t.notThrowsAsync(pingKafka(brokers), 'the broker runs on')
  t.deepEqual(await outside(brokers), before, 'nothing outside its namespace changed')
}

test.serial('the demo starts, prints its dashboard and status lines, and Ctrl-C (SIGINT) stops all of it', async t => {
  await runThenStop(t, 'SIGINT')
})

test.serial('SIGTERM stops the demo the same way', async t => {
  await runThenStop(t, 'SIGTERM')
})
