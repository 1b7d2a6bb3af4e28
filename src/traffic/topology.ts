// The antenna traffic application: validates each event (bad ones to `<input>-dlq`),
// left-joins the user metadata table (events of unknown users still count everywhere, and
// are counted), archives every valid event to Parquet, and keeps 5-minute totals of bytes per antenna, per user and per app, each
// closed window upserted into Postgres `bytes`.
import { TimeWindows, TopologyBuilder, type RecordSink, type Topology, type WindowSink } from '../topology/index.ts'
import { int64Serde, jsonSerde, stringSerde, type Serde } from '../lib/serdes.ts'
import { checkEventTime, decodeEvent, DEFAULT_MAX_FUTURE_SECONDS, type TrafficEvent } from './event-codec.ts'
import type { EnrichedEvent, HourlyUsage, TotalType, UserMetadata } from './types.ts'

export type { EnrichedEvent, HourlyUsage, TotalType, UserMetadata } from './types.ts'

export interface TrafficOptions {
  inputTopic: string
  metadataTopic: string
  graceMs: number
  /** Where each total's closed windows go (one sink per owner task). */
  totalsSink: (type: TotalType) => WindowSink<string, number>
  /** Topic of live quota alerts: key = user id, value = the hour's usage, window bounds in headers. */
  alertsTopic: string
  /**
   * Where live quota alerts go besides the topic (one sink per owner task): `alerts` gets the
   * first time a user goes over quota in an hour, `totals` every closed hour (the hour's total
   * usage, for the users it alerted).
   */
  alertsSink: (what: 'alerts' | 'totals') => WindowSink<string, HourlyUsage>
  /** Where every valid event goes, late ones included (one sink per input partition). */
  archiveSink?: () => RecordSink<unknown, EnrichedEvent>
  onUnknownUser?: () => void
  /** How far an event's time may be ahead of its record's Kafka timestamp (default 300 s). */
  maxFutureSeconds?: number
}

export const WINDOW_MS = 5 * 60_000
export const HOUR_MS = 3_600_000

export function trafficTopology(options: TrafficOptions): Topology {
  const maxFuture = options.maxFutureSeconds ?? DEFAULT_MAX_FUTURE_SECONDS
  const builder = new TopologyBuilder()
    .deadLetters(`${options.inputTopic}-dlq`)
    .lateRecords(`${options.inputTopic}-late`)
  const users = builder.globalTable(options.metadataTopic, { key: stringSerde, value: jsonSerde<UserMetadata>() })
  const eventSerde: Serde<TrafficEvent> = {
    serialize: event => Buffer.from(JSON.stringify(event)),
    deserialize: decodeEvent
  }
  const enriched = builder
    .stream(options.inputTopic, {
      value: eventSerde,
      timestamp: (event, recordTimestamp) => checkEventTime(event, recordTimestamp, maxFuture)
    })
    .leftJoin(
      users,
      (_key, event) => event.id,
      (event, user): EnrichedEvent => {
        if (user === undefined) options.onUnknownUser?.()
        // Field by field, not a spread: one object shape for every event, built on the hot path.
        return {
          bytes: event.bytes,
          timestamp: event.timestamp,
          app: event.app,
          id: event.id,
          antenna_id: event.antenna_id,
          email: user?.email ?? null,
          quota: user?.quota ?? null
        }
      }
    )
  if (options.archiveSink !== undefined) enriched.toSink('archive', options.archiveSink)
  const windows = TimeWindows.ofSizeAndGrace(WINDOW_MS, options.graceMs)
  const totals: Array<[string, TotalType, (event: EnrichedEvent) => string]> = [
    ['antenna-bytes', 'antenna_total_bytes', event => event.antenna_id],
    ['user-bytes', 'user_total_bytes', event => event.id],
    ['app-bytes', 'app_total_bytes', event => event.app]
  ]
  for (const [name, type, keyOf] of totals) {
    enriched
      .groupBy((_key, event) => keyOf(event), stringSerde)
      .windowedBy(windows)
      .aggregate({
        name,
        init: () => 0,
        adder: (_key, event, sum) => sum + event.bytes,
        merger: (_key, a, b) => a + b,
        serde: int64Serde
      })
      .toSink('bytes', () => options.totalsSink(type))
  }
  // Live quota: each user's running usage per UTC hour; the first time it exceeds the quota
  // (as of the user's latest event) the watch marks the window alerted and emits one alert.
  // When the hour closes, its total replaces the usage seen at the alert.
  enriched
    .groupBy((_key, event) => event.id, stringSerde)
    .windowedBy(TimeWindows.ofSizeAndGrace(HOUR_MS, options.graceMs))
    .aggregate<HourlyUsage>({
      name: 'user-hour-usage',
      init: () => ({ usage: 0, quota: null, email: null, alerted: false }),
      adder: (_key, event, hour) => {
        hour.usage += event.bytes
        if (event.quota !== null) {
          hour.quota = event.quota
          hour.email = event.email
        }
        return hour
      },
      merger: (_key, earlier, later) => ({
        usage: earlier.usage + later.usage,
        quota: later.quota ?? earlier.quota,
        email: later.email ?? earlier.email,
        alerted: earlier.alerted || later.alerted
      }),
      serde: jsonSerde<HourlyUsage>()
    })
    .toSink('quota-totals', () => options.alertsSink('totals'))
    .watch('quota-alerts', (_key, _start, hour) =>
      hour.quota !== null && !hour.alerted && hour.usage > hour.quota ? { ...hour, alerted: true } : undefined
    )
    .to(options.alertsTopic, { key: stringSerde, value: jsonSerde<HourlyUsage>() })
    .toSink('quota-alerts', () => options.alertsSink('alerts'))
  return builder.build()
}
