import test from 'ava'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { windowsView } from '../../src/web/collector.ts'
import { metricSum } from '../../src/web/instances-source.ts'
import { InstanceOpenWindows, WallClockOpenWindows } from '../../src/web/open-windows.ts'
import { RateMeter } from '../../src/web/rate-meter.ts'
import type { Snapshot } from '../../src/web/snapshot.ts'
import { statusLine } from '../../src/web/status-line.ts'
import type { TablesView } from '../../src/web/tables-source.ts'

const T = 1_613_764_800 // 2021-02-19T20:00:00Z

function tables(windows: TablesView['windows']): TablesView {
  return {
    latestWindow: Math.max(...windows.map(w => w.start)),
    windows,
    topUsers: undefined,
    alerts: [],
    alertCount: 0,
    overQuota: []
  }
}

test('closed windows without a row for an id are zero; open windows are empty unless their totals are known', t => {
  const view = windowsView(
    tables([
      { start: T, type: 'app_total_bytes', id: 'SKYPE', value: 10 },
      { start: T + 300, type: 'app_total_bytes', id: 'SKYPE', value: 20 },
      { start: T + 300, type: 'app_total_bytes', id: 'TELEGRAM', value: 5 },
      { start: T + 300, type: 'antenna_total_bytes', id: 'a', value: 35 }
    ]),
    [
      { start: T + 600, totals: undefined },
      { start: T + 900, totals: { app_total_bytes: new Map([['SKYPE', 7]]) } }
    ]
  )
  t.deepEqual(view.starts, [T, T + 300, T + 600, T + 900])
  t.is(view.open, 2)
  t.deepEqual(view.app, [
    { id: 'SKYPE', values: [10, 20, null, 7] },
    { id: 'TELEGRAM', values: [0, 5, null, null] }
  ])
  t.deepEqual(view.antenna, [{ id: 'a', values: [0, 35, null, null] }])
})

test('a window the tables already hold is shown closed even if a source still calls it open', t => {
  const view = windowsView(tables([{ start: T, type: 'app_total_bytes', id: 'SKYPE', value: 10 }]), [
    { start: T, totals: { app_total_bytes: new Map([['SKYPE', 3]]) } }
  ])
  t.deepEqual(view, { starts: [T], open: 0, app: [{ id: 'SKYPE', values: [10] }], antenna: [] })
})

test('by the wall clock, the windows after the newest closed one up to the current one are open, unless that is far behind', async t => {
  const source = new WallClockOpenWindows()
  t.deepEqual(await source.openWindows(T, T + 300 + 42), [{ start: T + 300, totals: undefined }])
  t.deepEqual(await source.openWindows(T, T + 600 + 1), [
    { start: T + 300, totals: undefined },
    { start: T + 600, totals: undefined }
  ])
  t.deepEqual(await source.openWindows(T, T + 299), [], 'the current window is the newest closed one')
  t.deepEqual(
    await source.openWindows(T, T + 86_400),
    [],
    'history, or a backlog: which windows are open cannot be told'
  )
  t.deepEqual(await source.openWindows(undefined, T), [])
})

test('a rate over the last ten seconds of samples', t => {
  const meter = new RateMeter()
  t.is(meter.rate(0, 100), undefined)
  t.is(meter.rate(2000, 120), 10)
  t.is(meter.rate(12_000, 320), 20, 'from the sample at 2 s, the newest at least ten seconds old')
  t.is(meter.rate(13_000, 50), undefined, 'a count that went down starts over')
})

test('metric sums over every label of one metric, and only that metric', t => {
  const text = [
    '# HELP cellstream_windows_emitted_total closed windows emitted',
    'cellstream_windows_emitted_total{aggregation="app-bytes"} 12',
    'cellstream_windows_emitted_total{aggregation="user-bytes"} 30',
    'cellstream_windows_emitted_totally 99',
    'cellstream_records_in_total 7'
  ].join('\n')
  t.is(metricSum(text, 'cellstream_windows_emitted_total'), 42)
  t.is(metricSum(text, 'cellstream_records_in_total'), 7)
  t.is(metricSum(text, 'cellstream_missing'), undefined)
})

test('the status line says what goes in and out, what waits and what came out', t => {
  const snapshot = {
    problems: [],
    pipeline: {
      eventsIn: 10.04,
      eventsOut: 9.96,
      lag: 12,
      windowsWritten: 1234,
      deadLetters: [
        { reason: 'not-json', count: 3 },
        { reason: 'empty', count: 2 }
      ],
      late: 7,
      alerts: 1500
    }
  } as unknown as Snapshot
  t.is(
    statusLine(snapshot),
    'events/s in 10.0 out 10.0 · lag 12 · windows written 1,234 · dead letters 5 · late 7 · alerts 1,500'
  )
  const failing = {
    ...snapshot,
    problems: ['PostgreSQL: connect ECONNREFUSED'],
    pipeline: { ...snapshot.pipeline, eventsIn: undefined, lag: undefined }
  } as unknown as Snapshot
  t.is(
    statusLine(failing),
    'events/s in - out 10.0 · lag - · windows written 1,234 · dead letters 5 · late 7 · alerts 1,500 · 1 source failing: PostgreSQL: connect ECONNREFUSED'
  )
})

test("open windows come from the instances with their totals, the wall clock's current window besides; without an answer for all of them, the guess", async t => {
  const held = [
    { key: 'SKYPE', start: (T + 300) * 1000, value: 5, emitted: false },
    { key: 'TELEGRAM', start: (T + 300) * 1000, value: 2, emitted: false },
    { key: 'SKYPE', start: T * 1000, value: 9, emitted: true }
  ]
  let status = 200
  const server = createServer((request, response) => {
    t.is(request.url, '/windows/app-bytes')
    response
      .writeHead(status, { 'content-type': 'application/json' })
      .end(JSON.stringify(status === 200 ? held : { windows: held, missing: ['b'] }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.close()
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const source = new InstanceOpenWindows(async () => ['http://127.0.0.1:1', url], { app_total_bytes: 'app-bytes' })
  t.deepEqual(
    await source.openWindows(T, T + 600 + 10),
    [
      {
        start: T + 300,
        totals: {
          app_total_bytes: new Map([
            ['SKYPE', 5],
            ['TELEGRAM', 2]
          ])
        }
      },
      { start: T + 600, totals: {} }
    ],
    'the instance at port 1 does not answer; the next one does'
  )
  status = 206
  t.deepEqual(await source.openWindows(T, T + 600 + 10), [
    { start: T + 300, totals: undefined },
    { start: T + 600, totals: undefined }
  ])
  t.deepEqual(await new InstanceOpenWindows(async () => [], { app_total_bytes: 'app-bytes' }).openWindows(T, T + 310), [
    { start: T + 300, totals: undefined }
  ])
})
