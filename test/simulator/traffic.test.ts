import { readFile } from 'node:fs/promises'
import test from 'ava'
import { REFERENCE_ANTENNAS, REFERENCE_USERS } from '../../src/lib/reference.ts'
import { makeAntennas, makeUsers, nearestNeighbours } from '../../src/simulator/population.ts'
import { simulate } from '../../src/simulator/run.ts'
import { dailyRhythm, Traffic } from '../../src/simulator/traffic.ts'
import { truthFromFile } from '../../src/truth/from-file.ts'
import { DAY, simulateToFile } from '../helpers/simulate-file.ts'

// The exact shape of the reference line: field order, no whitespace, integers, UUIDs.
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
const LINE = new RegExp(
  `^\\{"bytes":(0|[1-9]\\d*),"timestamp":([1-9]\\d*),"app":"([A-Z]+)","id":"(${UUID})","antenna_id":"(${UUID})"\\}$`
)
const APPS = ['SKYPE', 'TELEGRAM', 'FACETIME', 'FACEBOOK', 'WHATSAPP']

interface Parsed {
  bytes: number
  timestamp: number
  app: string
  id: string
  antenna: string
}

function parseLine(line: string): Parsed | undefined {
  const m = LINE.exec(line)
  if (m === null) return undefined
  return { bytes: Number(m[1]), timestamp: Number(m[2]), app: m[3]!, id: m[4]!, antenna: m[5]! }
}

test('every record of a default run has the exact reference format and values', async t => {
  const { path, result } = await simulateToFile(t, { seed: 'schema' })
  const lines = (await readFile(path, 'utf8')).split('\n')
  t.is(lines.pop(), '', 'the file ends with a newline')
  t.is(lines.length, result.records)
  // One event per user per minute on average over a day, like the original.
  t.true(lines.length > 20 * 1440 * 0.9 && lines.length < 20 * 1440 * 1.1, String(lines.length))
  const users = new Set(REFERENCE_USERS.map(u => u.id))
  const antennas = new Set(REFERENCE_ANTENNAS.map(a => a.id))
  let previous = 0
  for (const line of lines) {
    const event = parseLine(line)
    if (event === undefined) return t.fail(`not in the reference format: ${line}`)
    t.deepEqual(JSON.parse(line), {
      bytes: event.bytes,
      timestamp: event.timestamp,
      app: event.app,
      id: event.id,
      antenna_id: event.antenna
    })
    if (event.bytes > 9999) return t.fail(`bytes beyond the original range: ${line}`)
    if (event.timestamp < DAY || event.timestamp >= DAY + 86_400 || event.timestamp < previous)
      return t.fail(`timestamp out of order or range: ${line}`)
    if (!APPS.includes(event.app) || !users.has(event.id) || !antennas.has(event.antenna))
      return t.fail(`unknown app, user or antenna: ${line}`)
    previous = event.timestamp
  }
  t.pass()
})

test('all five apps appear, WHATSAPP included, and every user sends', async t => {
  const { path } = await simulateToFile(t, { seed: 'apps' })
  const events = (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map(line => parseLine(line)!)
  const perApp = new Map<string, number>()
  for (const e of events) perApp.set(e.app, (perApp.get(e.app) ?? 0) + 1)
  t.deepEqual([...perApp.keys()].sort(), [...APPS].sort())
  t.true(perApp.get('WHATSAPP')! > events.length / 20)
  t.is(new Set(events.map(e => e.id)).size, 20)
})

test('users move between antennas over a day, mostly to nearby ones', async t => {
  const { path } = await simulateToFile(t, { seed: 'moves' })
  const events = (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map(line => parseLine(line)!)
  const index = new Map(REFERENCE_ANTENNAS.map((a, i) => [a.id, i]))
  const neighbours = nearestNeighbours(REFERENCE_ANTENNAS, 4)
  const at = new Map<string, string>()
  const visited = new Map<string, Set<string>>()
  let moves = 0
  for (const e of events) {
    const before = at.get(e.id)
    if (before !== undefined && before !== e.antenna) {
      moves++
      // A move goes to a neighbour of the previous antenna (with 5 antennas, all 4 others are).
      t.true(neighbours[index.get(before)!]!.includes(index.get(e.antenna)!))
    }
    at.set(e.id, e.antenna)
    visited.set(e.id, (visited.get(e.id) ?? new Set()).add(e.antenna))
  }
  t.true(moves > 100, `${moves} moves`)
  // Users stay a while: far fewer moves than events.
  t.true(moves < events.length / 4, `${moves} moves in ${events.length} events`)
  t.true([...visited.values()].filter(s => s.size >= 2).length >= 15)
})

test('the daily rhythm shows: evenings busier than nights, in events and in bytes', async t => {
  const { path } = await simulateToFile(t, { seed: 'rhythm' })
  const events = (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map(line => parseLine(line)!)
  const hourOf = (e: Parsed): number => Math.floor((e.timestamp - DAY) / 3600)
  const night = events.filter(e => hourOf(e) >= 2 && hourOf(e) < 5)
  const evening = events.filter(e => hourOf(e) >= 17 && hourOf(e) < 20)
  t.true(evening.length > 2.5 * night.length, `${evening.length} vs ${night.length}`)
  const mean = (list: Parsed[]): number => list.reduce((s, e) => s + e.bytes, 0) / list.length
  t.true(mean(evening) > mean(night))
  // The rhythm averages 1 over a day, so --rate stays the mean rate.
  let sum = 0
  for (let s = 0; s < 86_400; s += 60) sum += dailyRhythm(DAY + s)
  t.true(Math.abs(sum / 1440 - 1) < 1e-9)
})

test('--users and --antennas extend the reference population with generated ones', t => {
  const users = makeUsers(1000)
  t.deepEqual(users.slice(0, 20), [...REFERENCE_USERS])
  t.is(new Set(users.map(u => u.id)).size, 1000)
  t.is(new Set(users.map(u => u.email)).size, 1000)
  t.deepEqual(users[20], {
    id: '00000000-0000-0000-0000-000000000021',
    name: 'user21',
    email: 'user21@example.com',
    quota: 200000
  })
  t.deepEqual(
    makeUsers(3).map(u => u.name),
    ['andres', 'paco', 'juan']
  )
  const antennas = makeAntennas(50)
  t.deepEqual(antennas.slice(0, 5), [...REFERENCE_ANTENNAS])
  t.is(new Set(antennas.map(a => a.id)).size, 50)
  for (const a of antennas) t.regex(a.id, new RegExp(`^${UUID}$`))
  // Metadata depends on the count only, never on the seed or on how many others there are.
  t.deepEqual(makeAntennas(10)[7], antennas[7])
})

test('a scaled run uses the generated users and antennas', async t => {
  const { path } = await simulateToFile(t, { seed: 'scaled', users: 500, antennas: 40, rate: 20 }, { events: 20_000 })
  const events = (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map(line => parseLine(line))
  t.true(events.every(e => e !== undefined))
  t.true(new Set(events.map(e => e!.id)).size > 400)
  t.true(new Set(events.map(e => e!.antenna)).size > 30)
})

test('--late-ratio sends some events 5 to 60 minutes late, which the truth counts as late', async t => {
  const options = { seed: 'late', lateRatio: 0.05 }
  const { path, result } = await simulateToFile(t, options)
  // The same run again, into a sink that sees each record with the second it is sent in.
  const sent: Array<{ second: number; timestamp: number }> = []
  await simulate({
    traffic: new Traffic(options),
    from: DAY,
    to: DAY + 86_400,
    sink: {
      write: record => {
        if (record.bad === undefined) sent.push({ second: record.second, timestamp: record.timestamp })
        return undefined
      },
      flush: async () => {},
      close: async () => {}
    }
  })
  const events = (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map(line => parseLine(line)!)
  t.deepEqual(
    sent.map(s => s.timestamp),
    events.map(e => e.timestamp),
    'the observed run wrote the same events'
  )
  const lateBy = sent.map(s => s.second - s.timestamp).filter(lag => lag !== 0)
  t.deepEqual(
    lateBy.filter(lag => lag < 300 || lag > 3600),
    [],
    'a late event is stamped 5 to 60 minutes before the second it is sent in'
  )
  t.true(lateBy.length > 0)
  t.true(lateBy.length < result.records * 0.05 * 1.5, `${lateBy.length} of ${result.records}`)
  let latest = 0
  let behind = 0
  for (const e of events) {
    if (e.timestamp < latest) behind++
    latest = Math.max(latest, e.timestamp)
  }
  const truth = await truthFromFile(path)
  t.true(truth.summary.late > 0)
  t.true(truth.summary.late <= behind)
})
