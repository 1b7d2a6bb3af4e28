// The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core)
// against a running pipeline: the charts show the numbers the ground truth computes for the
// same records, the open window with its totals so far from the running instance, and the
// window that closes next. Its screenshot is the README's.
import test from 'ava'
import { once } from 'node:events'
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { chromium, type Page } from 'playwright-core'
import { cellstream } from '../helpers/cli.ts'
import { testDatabase } from '../helpers/db.ts'
import { cleanUpAfter, kafkaBrokers, produceRecordFile, testTopics, uniqueName } from '../helpers/kafka.ts'
import { pipelineArgs, startStream } from '../helpers/stream.ts'
import { createAdmin } from '../../src/kafka/admin.ts'
import { createConsumer } from '../../src/kafka/clients.ts'
import { Fetcher } from '../../src/kafka/fetcher.ts'
import { waitFor } from '../../src/lib/processes.ts'
import { REFERENCE_ANTENNAS } from '../../src/lib/reference.ts'
import { makeUsers, simulatedAntenna } from '../../src/simulator/population.ts'
import { truthFromFile } from '../../src/truth/from-file.ts'
import type { BytesRow } from '../../src/truth/ground-truth.ts'
import { Collector } from '../../src/web/collector.ts'
import { startDashboard } from '../../src/web/dashboard-server.ts'
import { announcedUrls } from '../../src/web/instances-source.ts'
import { InstanceOpenWindows } from '../../src/web/open-windows.ts'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = fileURLToPath(new URL('../../docs/img/dashboard.png', import.meta.url))
const PARTITIONS = 3
const USERS = 200
// Two hours of history up to 20:57: every window before 20:55 closes (its end and the grace
// minute are behind every partition), the window of 20:55 stays open. The second batch, up to
// 21:02, closes it and opens the window of 21:00. The dashboard's clock stands still at 20:58.
// Partitions never go idle during the test, so only event time closes windows.
const FROM = '2021-02-19T19:00'
const SPLIT = '2021-02-19T20:57'
const TO = '2021-02-19T21:02'
const CLOCK = Date.parse('2021-02-19T20:58:00Z')
// Hang guards only: nothing asserts how long anything takes.
const PATIENCE = { timeoutMs: 180_000, intervalMs: 500 }

interface ChartOption {
  xAxis: Array<{ data: string[] }>
  yAxis: Array<{ data?: string[] }>
  series: Array<{ id: string; data: unknown[]; markArea?: { data?: unknown[] } }>
}

test('the dashboard shows the ground truth of a running pipeline in a real browser, the open window with its totals so far, and the window that closes next', async t => {
  try {
    await access(CHROMIUM)
  } catch {
    t.fail(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`)
    return
  }
  const brokers = await kafkaBrokers()
  const { url, db } = await testDatabase(t)
  const [input, metadata, alerts] = await testTopics(t, [
    { prefix: 'devices', partitions: PARTITIONS },
    { prefix: 'user-metadata', partitions: 1, config: { 'cleanup.policy': 'compact' } },
    { prefix: 'quota-alerts', partitions: 1 }
  ])
  const group = uniqueName('dashboard')
  cleanUpAfter(t, [group, input!])
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-dashboard-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), DATABASE_URL: url }

  // The records, and what the tables must hold for them.
  const traffic = ['--users', String(USERS), '--rate', '4']
  const first = join(dir, 'first.jsonl')
  const second = join(dir, 'second.jsonl')
  t.is(
    (
      await cellstream(
        [
          'simulate',
          ...traffic,
          '--seed',
          'dashboard-1',
          '--from',
          FROM,
          '--to',
          SPLIT,
          '--bad-ratio',
          '0.01',
          '--late-ratio',
          '0.01',
          '--out',
          first,
          '--provision'
        ],
        env
      )
    ).code,
    0
  )
  t.is(
    (
      await cellstream(
        ['simulate', ...traffic, '--seed', 'dashboard-2', '--from', SPLIT, '--to', TO, '--out', second],
        env
      )
    ).code,
    0
  )
  const users = makeUsers(USERS)
  const truth = await truthFromFile(first, { users, partitions: PARTITIONS })
  const later = await truthFromFile(second, { users, partitions: PARTITIONS })
  t.true(truth.summary.invalid > 0 && truth.summary.late > 0, 'the first batch has bad and late records')
  await produceRecordFile(input!, first, PARTITIONS)

  const stream = startStream(
    t,
    pipelineArgs(
      { input: input!, metadata: metadata!, alerts: alerts!, group, dir, idleTimeout: 3600, mirror: true },
      '--http-port',
      '0'
    ),
    env
  )
  const closedRows = truth.bytes.filter(r => r.timestamp < '2021-02-19T20:55')
  const rows = async (): Promise<number> => await db.one('SELECT count(*) AS n FROM bytes', [], row => row.n as number)
  t.truthy(await waitFor(async () => ((await rows()) >= closedRows.length ? true : undefined), PATIENCE), stream.log())
  // The batch layer's view of the first hour, for the chart that compares both layers.
  const compact = await cellstream(['compact', '--hour', '2021-02-19T19', '--archive-dir', join(dir, 'archive')], env)
  t.is(compact.code, 0, compact.stderr)

  const admin = createAdmin(brokers, 'dashboard-test')
  const consumer = createConsumer(brokers, 'dashboard-test', uniqueName('dashboard-test'))
  t.teardown(async () => {
    await consumer.close(true)
    await admin.close()
  })
  // The instances as the group announces them, and their open windows, as `cellstream web` finds them.
  const fetcher = new Fetcher(consumer)
  const instances = async (): Promise<string[]> => await announcedUrls(fetcher, group)
  const collector = new Collector({
    db,
    admin,
    fetcher,
    group,
    inputTopic: input!,
    instances,
    archiveDir: join(dir, 'archive'),
    openWindows: new InstanceOpenWindows(instances, {
      app_total_bytes: 'app-bytes',
      antenna_total_bytes: 'antenna-bytes'
    }),
    antennaAt: simulatedAntenna,
    now: () => CLOCK
  })
  const dashboard = await startDashboard({ collector, host: '127.0.0.1', port: 0, refreshMs: 500 })
  t.teardown(() => dashboard.close())

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
  const errors: string[] = []
  page.on('pageerror', error => errors.push(error.message))
  await page.goto(dashboard.url)

  // Every closed window of the first batch as the truth has it, and the window of 20:55 open,
  // with its totals so far.
  const closed = windowLabels(closedRows)
  const apps = await waitFor(async () => {
    const option = await chartOption(page, 'chart-apps')
    const counted =
      (await kpi(page, 'kpi-dead')) === truth.summary.invalid.toLocaleString('en-US') &&
      (await kpi(page, 'kpi-late')) === truth.summary.late.toLocaleString('en-US')
    return option?.xAxis[0]!.data.length === closed.length + 1 && counted ? option : undefined
  }, PATIENCE)
  t.truthy(apps, 'the charts fill')
  t.deepEqual(apps!.xAxis[0]!.data, [...closed, '20:55'])
  t.deepEqual(seriesValues(apps!), expectedValues(truth.bytes, 'app_total_bytes', closed, ['20:55']))
  t.deepEqual(openArea(apps), [['20:55', '20:55']], 'the open window is marked')
  t.deepEqual(
    seriesValues(await chartOption(page, 'chart-antennas')),
    expectedValues(truth.bytes, 'antenna_total_bytes', closed, ['20:55'])
  )

  // The antennas where the reference puts them, with the bytes of the newest closed window.
  const map = await chartOption(page, 'chart-map')
  const newest = truth.bytes.filter(r => r.type === 'antenna_total_bytes' && r.timestamp === '2021-02-19T20:50:00Z')
  t.deepEqual(
    (map!.series[0]!.data as Array<{ id: string; value: number[] }>).map(d => [d.id, ...d.value]),
    newest
      .map(r => {
        const a = REFERENCE_ANTENNAS.find(a => a.id === r.id)!
        return [r.id, a.lon, a.lat, r.value]
      })
      .sort()
  )

  // The heaviest users of the hour so far, each with their usage and quota.
  const usage = hourUsage(closedRows, '2021-02-19T20')
  const users1 = await chartOption(page, 'chart-users')
  const email = (id: string): string => users.find(u => u.id === id)!.email
  const top = [...usage]
    .sort((a, b) => b[1] - a[1] || (email(a[0]) < email(b[0]) ? -1 : 1))
    .slice(0, 10)
    .reverse()
  t.deepEqual(
    users1!.yAxis[0]!.data,
    top.map(([id]) => email(id))
  )
  t.deepEqual(
    (users1!.series.find(s => s.id === 'usage')!.data as Array<{ value: number }>).map(d => d.value),
    top.map(([, value]) => value)
  )
  t.deepEqual(
    users1!.series.find(s => s.id === 'quota')!.data,
    top.map(([id]) => users.find(u => u.id === id)!.quota)
  )

  // Both layers' users over quota per hour: the live alerts, and the compacted hour as the truth has it.
  const overQuota = await chartOption(page, 'chart-over-quota')
  const alertsPerHour = await db.map(
    `SELECT to_char("timestamp" AT TIME ZONE 'UTC', 'HH24:MI') AS hour, count(*) AS n FROM quota_alerts GROUP BY 1 ORDER BY 1`,
    [],
    row => [row.hour, row.n]
  )
  t.deepEqual(
    overQuota!.xAxis[0]!.data.map((hour, i) => [hour, overQuota!.series.find(s => s.id === 'speed')!.data[i]]).filter(
      ([, n]) => n !== 0
    ),
    alertsPerHour
  )
  const batch = overQuota!.series.find(s => s.id === 'batch')!.data
  t.is(
    batch[overQuota!.xAxis[0]!.data.indexOf('19:00')],
    truth.userQuotaLimit.filter(r => r.timestamp.startsWith('2021-02-19T19')).length
  )
  t.is(batch[overQuota!.xAxis[0]!.data.indexOf('20:00')], null, 'hour 20 is not compacted')

  // Pipeline health: dead letters by reason and late events as the truth counts them, the
  // instance and its partitions, the compacted hour.
  t.is(await kpi(page, 'kpi-dead'), truth.summary.invalid.toLocaleString('en-US'))
  t.is(await kpi(page, 'kpi-late'), truth.summary.late.toLocaleString('en-US'))
  const deadLetters = await chartOption(page, 'chart-dead-letters')
  t.deepEqual(
    Object.fromEntries(deadLetters!.yAxis[0]!.data!.map((reason, i) => [reason, deadLetters!.series[0]!.data[i]])),
    truth.summary.invalidByReason
  )
  t.regex(await page.locator('#instances').innerText(), new RegExp(`${input} 0, 1, 2 \\+ \\d+ internal`))
  t.regex(await page.locator('#archive').innerText(), /2021-02-19 19h\s+\d+\s+compacted/)

  // The second batch: the window of 20:55 closes with the totals of both batches, and the window
  // of 21:00 opens. Each owner task writes its share of a window's rows: the wait lets them all land.
  await produceRecordFile(input!, second, PARTITIONS)
  const both = summed([...truth.bytes, ...later.bytes])
  const all = windowLabels(both.filter(r => r.timestamp < '2021-02-19T21:00'))
  const expected = expectedValues(both, 'app_total_bytes', all, ['21:00'])
  let next: ChartOption | undefined
  await waitFor(async () => {
    next = await chartOption(page, 'chart-apps')
    return isDeepStrictEqual(seriesValues(next), expected) ? true : undefined
  }, PATIENCE)
  t.deepEqual(next?.xAxis[0]!.data, [...all, '21:00'], 'the window of 20:55 closes')
  t.deepEqual(seriesValues(next), expected)
  t.deepEqual(openArea(next), [['21:00', '21:00']], 'the window of 21:00 is open')
  t.deepEqual(errors, [], 'no error on the page')

  await mkdir(join(SCREENSHOT, '..'), { recursive: true })
  await page.screenshot({ path: SCREENSHOT, fullPage: true })
  stream.child.kill('SIGTERM')
  await once(stream.child, 'exit')
})

async function chartOption(page: Page, id: string): Promise<ChartOption | undefined> {
  return await page.evaluate(id => {
    // Runs in the page, where ECharts is a global.
    const page = globalThis as unknown as {
      echarts: { getInstanceByDom(element: unknown): { getOption(): unknown } | undefined }
      document: { getElementById(id: string): unknown }
    }
    return page.echarts.getInstanceByDom(page.document.getElementById(id))?.getOption() as ChartOption | undefined
  }, id)
}

/** The windows the chart shades as open: the first and last label of each area. */
function openArea(option: ChartOption | undefined): unknown {
  return (option?.series[0]!.markArea?.data as Array<Array<{ xAxis: string }>> | undefined)?.map(area =>
    area.map(edge => edge.xAxis)
  )
}

async function kpi(page: Page, id: string): Promise<string> {
  return await page.locator(`#${id}`).innerText()
}

/** HH:MM of each window in the rows, in order. */
function windowLabels(rows: BytesRow[]): string[] {
  return [...new Set(rows.map(r => r.timestamp))].sort().map(t => t.slice(11, 16))
}

function seriesValues(option: ChartOption | undefined): Array<{ id: string; values: unknown[] }> {
  return (option?.series ?? []).map(s => ({ id: s.id, values: s.data })).sort((a, b) => (a.id < b.id ? -1 : 1))
}

/**
 * Per id of `type` in the closed or open windows, its value in each closed window (0 without
 * traffic), then in each open one (none before its first event).
 */
function expectedValues(
  rows: BytesRow[],
  type: BytesRow['type'],
  closed: string[],
  open: string[]
): Array<{ id: string; values: unknown[] }> {
  const value = (id: string, label: string): number | undefined =>
    rows.find(r => r.type === type && r.id === id && r.timestamp.slice(11, 16) === label)?.value
  const shown = rows.filter(r => r.type === type && [...closed, ...open].includes(r.timestamp.slice(11, 16)))
  return [...new Set(shown.map(r => r.id))].sort().map(id => ({
    id,
    values: [...closed.map(label => value(id, label) ?? 0), ...open.map(label => value(id, label) ?? null)]
  }))
}

/** Rows of two batches with the same window and id added up. */
function summed(rows: BytesRow[]): BytesRow[] {
  const sums = new Map<string, BytesRow>()
  for (const r of rows) {
    const key = `${r.timestamp} ${r.type} ${r.id}`
    const sum = sums.get(key)
    sums.set(key, sum === undefined ? { ...r } : { ...sum, value: sum.value + r.value })
  }
  return [...sums.values()]
}

/** Each user's bytes in the hour (`YYYY-MM-DDTHH`), from the 5-minute totals. */
function hourUsage(rows: BytesRow[], hour: string): Array<[string, number]> {
  const usage = new Map<string, number>()
  for (const r of rows)
    if (r.type === 'user_total_bytes' && r.timestamp.startsWith(hour)) usage.set(r.id, (usage.get(r.id) ?? 0) + r.value)
  return [...usage]
}
