// The DSL's record-at-a-time steps on the broker: a topology using flatMap, branch, map, peek
// and a windowed reduce, run by the real runtime; every output read to its end after the last
// commit and compared with what plain loops compute from the input.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../helpers/wait.ts'
import { cleanUpAfter, kafkaBrokers, readTopic, testTopics, uniqueName } from '../helpers/kafka.ts'
import { createProducer } from '../../src/kafka/clients.ts'
import { headerValue } from '../../src/kafka/fetcher.ts'
import { jsonSerde, stringSerde } from '../../src/lib/serdes.ts'
import { StreamApp } from '../../src/runtime/stream-app.ts'
import { TimeWindows, TopologyBuilder } from '../../src/topology/index.ts'

interface Line {
  ts: number
  n: number
  text: string
}
interface Seen {
  ts: number
  n: number
}

const T0 = 1613768400
const WINDOW_S = 300
const VOCABULARY = ['ox', 'cat', 'horse', 'zebra', 'eel', 'giraffe', 'yak']
const PARTITIONS = 2

/** Lines of one to three words, one every 3 s; line n goes to partition n % 2, so each partition's time only grows. */
const lines: Line[] = Array.from({ length: 600 }, (_, n) => ({
  ts: T0 + 3 * n,
  n,
  text: Array.from({ length: 1 + (n % 3) }, (_, j) => VOCABULARY[(n * 5 + j * 3) % VOCABULARY.length]).join(' ')
}))

test('flatMap, branch, map, peek and a windowed reduce give exact outputs on the broker', async t => {
  const brokers = await kafkaBrokers()
  const [input, shortOut, reducedOut] = await testTopics(t, [
    { prefix: 'lines', partitions: PARTITIONS },
    { prefix: 'short-words', partitions: PARTITIONS },
    { prefix: 'latest-long-words', partitions: PARTITIONS }
  ])
  const applicationId = uniqueName('dsl')
  cleanUpAfter(t, [applicationId])
  const stateDir = await mkdtemp(join(tmpdir(), 'cellstream-dsl-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))

  // What each step must give, by plain loops over the input.
  const expectedShort: string[] = []
  const expectedPeeked: string[] = []
  const latest = new Map<string, number>()
  for (const line of lines) {
    for (const word of line.text.split(' ')) {
      if (word.length <= 3) {
        expectedShort.push(`${word.toUpperCase()}=${line.n}`)
        continue
      }
      expectedPeeked.push(word)
      const id = `${(line.ts - (line.ts % WINDOW_S)) * 1000}|${word}`
      latest.set(id, Math.max(latest.get(id) ?? -1, line.n))
    }
  }
  const expectedLatest = [...latest].map(([id, n]) => `${id}=${n}`).sort()

  const peeked: string[] = []
  const builder = new TopologyBuilder().deadLetters(`${applicationId}-dlq`)
  const [short, long] = builder
    .stream(input!, { value: jsonSerde<Line>(), timestamp: line => line.ts * 1000 })
    .flatMap((_key, line) => line.text.split(' ').map(word => ({ key: word, value: { ts: line.ts, n: line.n } })))
    .branch(
      word => word.length <= 3,
      () => true
    )
  short!
    .map((word, seen) => ({ key: word.toUpperCase(), value: String(seen.n) }))
    .to(shortOut!, {
      key: stringSerde,
      value: stringSerde
    })
  long!
    .peek(word => {
      peeked.push(word)
    })
    .groupBy(word => word, stringSerde)
    .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW_S * 1000, 60_000))
    .reduce({ name: 'latest', reducer: (a: Seen, b: Seen) => (a.n > b.n ? a : b), serde: jsonSerde<Seen>() })
    .to(reducedOut!, { key: stringSerde, value: jsonSerde<Seen>() })

  const producer = createProducer(brokers, 'dsl-test')
  await producer.send({
    messages: lines.map(line => ({
      topic: input!,
      partition: line.n % PARTITIONS,
      value: Buffer.from(JSON.stringify(line))
    }))
  })
  await producer.close()

  const app = new StreamApp({
    topology: builder.build(),
    applicationId,
    brokers,
    stateDir,
    commitIntervalMs: 300,
    idleTimeoutMs: 1000
  })
  t.teardown(() => app.stop())
  await app.start()
  await waitFor(
    'every window of the reduce to close',
    async () => ((await readTopic(reducedOut!)).length >= expectedLatest.length ? true : undefined),
    { deadlineMs: 120_000, intervalMs: 500 }
  )
  await app.stop()

  const shortWords = (await readTopic(shortOut!)).map(r => `${r.key!.toString()}=${r.value!.toString()}`)
  t.deepEqual(shortWords.sort(), expectedShort.sort())
  t.deepEqual(peeked.sort(), expectedPeeked.sort(), 'peek saw each long word once')
  const reduced = (await readTopic(reducedOut!)).map(r => {
    const seen = JSON.parse(r.value!.toString()) as Seen
    return `${headerValue(r, 'cellstream.window.start')}|${r.key!.toString()}=${seen.n}`
  })
  t.deepEqual(reduced.sort(), expectedLatest)
  t.deepEqual(await readTopic(`${applicationId}-dlq`), [], 'no record failed')
})
