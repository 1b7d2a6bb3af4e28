// The records of the antenna application's own topics, decoded into plain objects for people
// and tools (`cellstream tail`): dead letters with their reason and where they came from, late
// events, live quota alerts, and the user metadata the stream joins.
import { headerValue } from '../kafka/fetcher.ts'
import { DEAD_LETTER_HEADERS } from '../runtime/source-task.ts'
import { TRUNCATED_HEADER } from '../runtime/topic-limits.ts'
import { WINDOW_HEADERS } from '../runtime/window-outputs.ts'
import type { RawRecord } from '../topology/records.ts'

export const PIPELINE_TOPICS = ['dead-letters', 'late-events', 'quota-alerts', 'user-metadata'] as const
export type PipelineTopic = (typeof PIPELINE_TOPICS)[number]

/** The topic's default name, as the `stream` command's defaults name it. */
export function defaultTopicName(kind: PipelineTopic, inputTopic = 'devices'): string {
  switch (kind) {
    case 'dead-letters':
      return `${inputTopic}-dlq`
    case 'late-events':
      return `${inputTopic}-late`
    case 'quota-alerts':
      return 'quota-alerts'
    case 'user-metadata':
      return 'user-metadata'
  }
}

export interface Coordinates {
  topic: string
  partition: number
  offset: string
}

/** Where the record is, and when it was written (its Kafka timestamp, ISO 8601 UTC). */
export interface Located {
  at: string
  record: Coordinates
}

/** The original payload: as text when it is UTF-8, else in base64. */
export type Payload = { payload: string } | { payloadBase64: string } | { payload: null }

/**
 * A record the stream could not take (bad input), or one a sink refused: then `sink` names it,
 * and a refused window has its start instead of a source. A dead letter too large for its topic
 * keeps the head of its payload and says how large it was (`truncatedFrom`, bytes).
 */
export type DeadLetter = Located &
  Payload & {
    reason: string
    source: Coordinates | undefined
    sink: string | undefined
    windowStart: string | undefined
    truncatedFrom: number | undefined
  }
export type LateEvent = Located &
  Payload & { source: Coordinates | undefined; aggregation: string | undefined; windowStart: string | undefined }
export type QuotaAlert = Located & {
  userId: string | null
  email: string | null
  usage: number
  quota: number | null
  hour: string | undefined
}
export type UserMetadataChange = Located & {
  id: string | null
  user: { name: string; email: string; quota: number } | null
}
export type PipelineRecord = DeadLetter | LateEvent | QuotaAlert | UserMetadataChange

export function decodePipelineRecord(kind: PipelineTopic, record: RawRecord): PipelineRecord {
  const located: Located = {
    at: isoTime(record.timestamp),
    record: { topic: record.source.topic, partition: record.source.partition, offset: String(record.source.offset) }
  }
  switch (kind) {
    case 'dead-letters': {
      const truncatedFrom = headerValue(record, TRUNCATED_HEADER)
      return {
        ...located,
        reason: headerValue(record, DEAD_LETTER_HEADERS.reason) ?? 'unknown',
        source: source(record),
        sink: headerValue(record, DEAD_LETTER_HEADERS.sink),
        windowStart: windowStart(record),
        truncatedFrom: truncatedFrom === undefined ? undefined : Number(truncatedFrom),
        ...payload(record.value)
      }
    }
    case 'late-events':
      return {
        ...located,
        source: source(record),
        aggregation: headerValue(record, WINDOW_HEADERS.aggregation),
        windowStart: windowStart(record),
        ...payload(record.value)
      }
    case 'quota-alerts': {
      const usage = parseJson(record.value) as { usage?: number; quota?: number | null; email?: string | null } | null
      return {
        ...located,
        userId: record.key?.toString() ?? null,
        email: usage?.email ?? null,
        usage: usage?.usage ?? 0,
        quota: usage?.quota ?? null,
        hour: windowStart(record)
      }
    }
    case 'user-metadata': {
      const user = parseJson(record.value) as { name: string; email: string; quota: number } | null
      return {
        ...located,
        id: record.key?.toString() ?? null,
        user: user === null ? null : { name: user.name, email: user.email, quota: user.quota }
      }
    }
  }
}

function windowStart(record: RawRecord): string | undefined {
  const start = headerValue(record, WINDOW_HEADERS.start)
  return start === undefined ? undefined : isoTime(Number(start))
}

function source(record: RawRecord): Coordinates | undefined {
  const topic = headerValue(record, DEAD_LETTER_HEADERS.topic)
  const partition = headerValue(record, DEAD_LETTER_HEADERS.partition)
  const offset = headerValue(record, DEAD_LETTER_HEADERS.offset)
  return topic === undefined || partition === undefined || offset === undefined
    ? undefined
    : { topic, partition: Number(partition), offset }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function payload(value: Buffer | null): Payload {
  if (value === null) return { payload: null }
  try {
    return { payload: utf8.decode(value) }
  } catch {
    return { payloadBase64: value.toString('base64') }
  }
}

function parseJson(value: Buffer | null): unknown {
  if (value === null) return null
  try {
    return JSON.parse(value.toString())
  } catch {
    return null
  }
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('.000Z', 'Z') : String(ms)
}
