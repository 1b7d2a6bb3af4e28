import test from 'ava'
import { Registry } from 'prom-client'
import { createProducer } from '../../src/kafka/clients.ts'
import { startHttpServer } from '../../src/web/server.ts'
import { app, setup } from '../helpers/sample-app.ts'
import { produceUsage, type UsageEvent } from '../helpers/usage-data.ts'
import { waitFor } from '../helpers/wait.ts'

const T0 = 1613768400

test("interactive queries: any instance answers a key's open window from the instance that holds it, and all windows from all instances", async t => {
  const s = await setup(t, 4)
  // One 5-minute window, never closed during the test (a long idle timeout).
  const events: UsageEvent[] = Array.from({ length: 2000 }, (_, i) => ({
    partition: i % 4,
    user: `user-${i % 10}`,
    bytes: i,
    ts: T0 + (i % 290)
  }))
  const expected = new Map<string, number>()
  for (const e of events) expected.set(e.user, (expected.get(e.user) ?? 0) + e.bytes)
  const producer = createProducer(s.brokers, 'queries')
  await produceUsage(producer, s.topics.input, events)
  await producer.close()

  const instances = ['a', 'b'].map(name => app(s, name, { idleTimeoutMs: 600_000 }))
  t.teardown(() => Promise.all(instances.map(instance => instance.stop())))
  const servers = await Promise.all(instances.map(instance => startHttpServer({ port: 0 }, new Registry(), instance)))
  t.teardown(() => {
    for (const { server } of servers) server.close()
  })
  instances.forEach((instance, i) => {
    instance.advertise(`http://127.0.0.1:${servers[i]!.port}`)
  })
  await Promise.all(instances.map(instance => instance.start()))
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the answers' shapes are what the test checks
  const get = async (i: number, path: string): Promise<{ status: number; body: any }> => {
    const response = await fetch(`http://127.0.0.1:${servers[i]!.port}${path}`)
    return { status: response.status, body: await response.json() }
  }

  // Both instances announced, and together they hold every partition of the aggregation's
  // partials topic. The group may give all of them to one instance (the other then holds the
  // input partitions only): queries must be answered either way.
  let announced: unknown
  await waitFor(
    'both instances to announce their partitions',
    async () => {
      const { body } = await get(0, '/instances')
      announced = body
      const partials = new Set(
        (body as Array<{ partitions: string[] }>).flatMap(i =>
          i.partitions.filter(p => p.includes('-user-bytes-partials:'))
        )
      )
      return body.length === 2 && partials.size === 4
    },
    { deadlineMs: 120_000, intervalMs: 500, detail: () => `last answer: ${JSON.stringify(announced)}` }
  )

  // Asked of either instance, every key's open window comes with its exact total so far: the
  // one that does not hold the key forwards the question.
  await waitFor(
    'every key answered through both instances, with its total',
    async () => {
      for (const [user, total] of expected)
        for (const i of [0, 1]) {
          const { status, body } = await get(i, `/windows/user-bytes?key=${user}`)
          if (status !== 200 || body.length !== 1 || body[0].value !== total) return false
        }
      return true
    },
    { deadlineMs: 60_000, intervalMs: 500 }
  )
  const { body: one } = await get(0, '/windows/user-bytes?key=user-3')
  t.deepEqual(one, [
    { key: 'user-3', start: T0 * 1000, end: (T0 + 300) * 1000, value: expected.get('user-3'), emitted: false }
  ])

  // Locally, each instance holds only its own keys: together, every key once.
  const local = await Promise.all(
    [0, 1].map(async i => (await get(i, '/windows/user-bytes?local=1')).body as Array<{ key: string }>)
  )
  t.is(local[0]!.length + local[1]!.length, expected.size)
  const { status, body: all } = await get(1, '/windows/user-bytes')
  t.is(status, 200, JSON.stringify(all))
  t.deepEqual(
    (all as Array<{ key: string; value: number }>).map(w => `${w.key}=${w.value}`).sort(),
    [...expected].map(([key, value]) => `${key}=${value}`).sort()
  )
  t.is((await get(0, '/windows/nope?key=x')).status, 404)
})
