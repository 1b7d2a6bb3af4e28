import test from 'ava'
import { TopologyTestDriver } from '../../src/testing/test-driver.ts'
import { CollectingSink } from '../../src/testing/collecting-sink.ts'
import { trafficTopology } from '../../src/traffic/topology.ts'
import type { HourlyUsage } from '../../src/traffic/types.ts'

const HOUR = 1613768400 // 2021-02-19T21:00:00Z
const USER = '00000000-0000-0000-0000-000000000004'
const STRANGER = '99999999-0000-0000-0000-000000000000'
const ANTENNA = '11111111-1111-1111-1111-111111111111'
const event = (id: string, bytes: number, timestamp: number): string =>
  JSON.stringify({ bytes, timestamp, app: 'SKYPE', id, antenna_id: ANTENNA })

async function driver(): Promise<TopologyTestDriver> {
  const topology = trafficTopology({
    inputTopic: 'devices',
    metadataTopic: 'user-metadata',
    graceMs: 60_000,
    totalsSink: () => new CollectingSink(),
    alertsTopic: 'quota-alerts',
    alertsSink: () => new CollectingSink()
  })
  const d = await TopologyTestDriver.create(topology, { partitions: { devices: 3 }, now: Date.UTC(2026, 10, 28) })
  d.pipeTable('user-metadata', USER, JSON.stringify({ id: USER, name: 'fede', email: 'fede@gmail.com', quota: 1000 }))
  return d
}

const alerts = (d: TopologyTestDriver): string[] =>
  d
    .sinkRecords<string, HourlyUsage>('user-hour-usage', 'quota-alerts')
    .map(r => `${new Date(r.start).toISOString().slice(11, 16)} ${r.value.email} ${r.value.usage}>${r.value.quota}`)

test('the first time a user goes over quota in an hour gives one alert, and only one', async t => {
  const d = await driver()
  d.pipe('devices', { partition: 0, value: event(USER, 600, HOUR + 10) })
  await d.commit()
  t.deepEqual(alerts(d), [], 'at quota or under: no alert')
  d.pipe('devices', { partition: 1, value: event(USER, 400, HOUR + 20) })
  await d.commit()
  t.deepEqual(alerts(d), [], 'usage == quota is not over it')
  d.pipe('devices', { partition: 2, value: event(USER, 1, HOUR + 30) })
  await d.commit()
  t.deepEqual(alerts(d), ['21:00 fede@gmail.com 1001>1000'])
  d.pipe('devices', { partition: 0, value: event(USER, 5000, HOUR + 40) })
  await d.commit()
  t.deepEqual(alerts(d), ['21:00 fede@gmail.com 1001>1000'], 'no second alert in the same hour')
  t.is(d.readOutput('quota-alerts').length, 1)
  d.pipe('devices', { partition: 1, value: event(USER, 2000, HOUR + 3600) })
  await d.commit()
  t.deepEqual(
    alerts(d),
    ['21:00 fede@gmail.com 1001>1000', '22:00 fede@gmail.com 2000>1000'],
    'a new hour alerts again'
  )
})

test('a quota change reaches the next events; unknown users never alert but still count', async t => {
  const d = await driver()
  d.pipeTable('user-metadata', USER, JSON.stringify({ id: USER, name: 'fede', email: 'fede@gmail.com', quota: 100000 }))
  d.pipe('devices', { value: event(USER, 5000, HOUR) })
  d.pipe('devices', { value: event(STRANGER, 999999, HOUR) })
  await d.commit()
  t.deepEqual(alerts(d), [])
  d.pipeTable('user-metadata', USER, JSON.stringify({ id: USER, name: 'fede', email: 'fede@gmail.com', quota: 4000 }))
  d.pipe('devices', { value: event(USER, 1, HOUR + 1) })
  await d.commit()
  t.deepEqual(alerts(d), ['21:00 fede@gmail.com 5001>4000'])
  for (let p = 0; p < 3; p++) d.pipe('devices', { partition: p, value: event(USER, 0, HOUR + 7200) })
  await d.commit()
  const totals = d
    .sinkRecords<string, number>('user-bytes', 'bytes')
    .map(r => `${r.key}=${r.value}`)
    .sort()
  t.deepEqual(totals, [`${USER}=5001`, `${STRANGER}=999999`])
})

test('bad records go to the dead letters with the reason of the rule they break', async t => {
  const d = await driver()
  d.pipe('devices', { value: event(USER, -1, HOUR) })
  d.pipe('devices', { value: '{"bytes":1' })
  d.pipe('devices', { value: event('user-4', 1, HOUR) })
  await d.commit()
  d.pipe('devices', { value: event(USER, 1, HOUR).replace('SKYPE', 'SKY\\u0000PE') })
  d.pipe('devices', { value: event(USER, 1, HOUR + 23 * 3600), timestamp: (HOUR + 60) * 1000 })
  await d.commit()
  t.deepEqual(
    d.deadLetters().map(l => l.reason.split(':')[0]),
    ['bytes-out-of-range', 'not-json', 'not-uuid', 'app-control-character', 'timestamp-in-future']
  )
})
