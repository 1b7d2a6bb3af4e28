// A small topology for engine tests: usage events {user, bytes, ts (epoch s)} summed per user
// in 5-minute windows with 60 s grace, left-joined with a `plans` table for the user's plan.
import { TopologyBuilder, TimeWindows, type Topology, type WindowSink, type Windows } from '../../src/topology/index.ts'
import { int64Serde, jsonSerde, stringSerde } from '../../src/lib/serdes.ts'
import { CollectingSink } from '../../src/testing/collecting-sink.ts'

export interface Usage {
  user: string
  bytes: number
  ts: number
}
export interface Plan {
  name: string
}

export const MINUTE = 60_000
export const WINDOW = 5 * MINUTE

export interface SampleTopics {
  input: string
  output: string
  enriched: string
  plans: string
  dlq: string
  late: string
}

const DEFAULT_TOPICS: SampleTopics = {
  input: 'usage',
  output: 'user-bytes',
  enriched: 'usage-enriched',
  plans: 'plans',
  dlq: 'usage-dlq',
  late: 'usage-late'
}

export function sampleTopology(
  options: {
    inner?: boolean
    topics?: SampleTopics
    sink?: boolean | (() => WindowSink<string, number>)
    windows?: Windows
  } = {}
): Topology {
  const topics = options.topics ?? DEFAULT_TOPICS
  const builder = new TopologyBuilder().deadLetters(topics.dlq).lateRecords(topics.late)
  const plans = builder.globalTable(topics.plans, { key: stringSerde, value: jsonSerde<Plan>() })
  const usage = builder.stream(topics.input, {
    value: {
      serialize: (v: Usage) => Buffer.from(JSON.stringify(v)),
      deserialize: bytes => {
        const v = JSON.parse(bytes.toString()) as Usage
        if (typeof v.user !== 'string' || !Number.isInteger(v.bytes) || !Number.isInteger(v.ts))
          throw new Error('not a usage event')
        return v
      }
    },
    timestamp: v => v.ts * 1000
  })
  const checked = usage.mapValues(v => {
    if (v.bytes < 0) throw new Error('negative bytes')
    return v
  })
  const joined =
    options.inner === true
      ? checked.join(
          plans,
          (_k, v) => v.user,
          (v, plan) => ({ ...v, plan: plan.name })
        )
      : checked.leftJoin(
          plans,
          (_k, v) => v.user,
          (v, plan) => ({ ...v, plan: plan?.name ?? 'unknown' })
        )
  joined.to(topics.enriched, { value: jsonSerde() })
  const table = joined
    .groupBy((_k, v) => v.user, stringSerde)
    .windowedBy(options.windows ?? TimeWindows.ofSizeAndGrace(WINDOW, MINUTE))
    .aggregate({
      name: 'user-bytes',
      init: () => 0,
      adder: (_k, v, sum) => sum + v.bytes,
      merger: (_k, a, b) => a + b,
      serde: int64Serde
    })
  if (options.sink !== false)
    table.toSink('totals', typeof options.sink === 'function' ? options.sink : () => new CollectingSink())
  table.to(topics.output, { key: stringSerde, value: int64Serde })
  return builder.build()
}

export const event = (user: string, bytes: number, ts: number): string => JSON.stringify({ user, bytes, ts })
