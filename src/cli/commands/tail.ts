// `cellstream tail`: a topic of the pipeline, readable, from its start (and on with --follow).
import { Argument, Command, Option } from 'commander'
import { pingKafka, withAdmin } from '../../kafka/admin.ts'
import { createConsumer } from '../../kafka/clients.ts'
import { Fetcher } from '../../kafka/fetcher.ts'
import { CellstreamError } from '../../lib/errors.ts'
import { parseBrokers } from '../../lib/options.ts'
import {
  decodePipelineRecord,
  defaultTopicName,
  PIPELINE_TOPICS,
  type PipelineRecord,
  type PipelineTopic
} from '../../traffic/pipeline-records.ts'
import { brokersOption } from '../shared-options.ts'

interface TailFlags {
  topic?: string
  inputTopic: string
  follow?: boolean
  json?: boolean
  brokers: string
}

const PAYLOAD_SHOWN = 160

export function tailCommand(): Command {
  return new Command('tail')
    .description(
      'print the records of a topic of the pipeline from its start: dead letters (reason, source coordinates, payload), late events, live quota alerts or user metadata'
    )
    .addArgument(new Argument('<what>', 'which topic').choices(PIPELINE_TOPICS))
    .addOption(
      new Option(
        '--topic <name>',
        "the topic's name, if not the default (<input-topic>-dlq, <input-topic>-late, quota-alerts, user-metadata)"
      )
    )
    .addOption(
      new Option('--input-topic <name>', 'the input topic whose dead letters or late events to read').default('devices')
    )
    .option('--follow', 'keep printing new records until Ctrl-C')
    .option('--json', 'one JSON object per line instead of text')
    .addOption(brokersOption())
    .action(async (what: PipelineTopic, flags: TailFlags) => {
      await runTail(what, flags)
    })
}

async function runTail(what: PipelineTopic, flags: TailFlags): Promise<void> {
  const brokers = parseBrokers(flags.brokers)
  const topic = flags.topic ?? defaultTopicName(what, flags.inputTopic)
  await pingKafka(brokers)
  if (!(await withAdmin(brokers, admin => admin.listTopics())).includes(topic)) {
    throw new CellstreamError(
      'CS_NO_TOPIC',
      `topic ${topic} does not exist${flags.topic === undefined ? ' (the stream processor creates it when it starts; --topic names another)' : ''}`
    )
  }
  // A reader that stops reading (`| head`) ends the command quietly.
  process.stdout.on('error', error => {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0)
  })
  const consumer = createConsumer(brokers, 'cellstream-tail', 'cellstream-tail')
  let stopped = false
  const stop = (): void => {
    stopped = true
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    const fetcher = new Fetcher(consumer)
    const partitions = await fetcher.partitions(topic)
    const starts = await fetcher.startOffsets(topic)
    const positions = Array.from({ length: partitions }, (_, partition) => starts[partition] ?? 0n)
    const ends = await fetcher.endOffsets(topic)
    const print = (record: PipelineRecord): void => {
      process.stdout.write(`${flags.json === true ? JSON.stringify(record) : describe(what, record)}\n`)
    }
    while (!stopped) {
      const behind = positions.flatMap((offset, partition) =>
        offset < (ends[partition] ?? 0n) || flags.follow === true ? [{ topic, partition, offset }] : []
      )
      if (behind.length === 0) break
      for (const part of await fetcher.fetch(behind, 500)) {
        for (const record of part.records) print(decodePipelineRecord(what, record))
        positions[part.partition] = part.next
      }
    }
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await consumer.close(true)
  }
}

function describe(what: PipelineTopic, record: PipelineRecord): string {
  const where = `${record.at} ${record.record.topic}-${record.record.partition}@${record.record.offset}`
  const from = (source: { topic: string; partition: number; offset: string } | undefined): string =>
    source === undefined ? 'from an unknown record' : `from ${source.topic}-${source.partition}@${source.offset}`
  switch (what) {
    case 'dead-letters': {
      const r = record as Extract<PipelineRecord, { reason: string }>
      const what =
        r.windowStart !== undefined && r.source === undefined ? `the window of ${r.windowStart}` : from(r.source)
      const refused = r.sink === undefined ? '' : ` refused by ${r.sink}`
      const truncated = r.truncatedFrom === undefined ? '' : ` (truncated from ${r.truncatedFrom} bytes)`
      return `${where} ${what}${refused}: ${r.reason}\n    ${payloadText(r)}${truncated}`
    }
    case 'late-events': {
      const r = record as Extract<PipelineRecord, { aggregation: string | undefined }>
      return `${where} ${from(r.source)}: late for the window of ${r.windowStart ?? 'an unknown time'}\n    ${payloadText(r)}`
    }
    case 'quota-alerts': {
      const r = record as Extract<PipelineRecord, { usage: number }>
      return `${where} ${r.email ?? r.userId ?? 'unknown user'} over quota in the hour of ${r.hour ?? 'an unknown time'}: ${r.usage.toLocaleString('en-US')} bytes, quota ${r.quota?.toLocaleString('en-US') ?? 'unknown'}`
    }
    case 'user-metadata': {
      const r = record as Extract<PipelineRecord, { user: unknown }>
      return r.user === null
        ? `${where} ${r.id ?? '(no key)'} deleted`
        : `${where} ${r.id ?? '(no key)'} ${r.user.name} <${r.user.email}> quota ${r.user.quota.toLocaleString('en-US')} bytes/hour`
    }
  }
}

function payloadText(record: { payload?: string | null; payloadBase64?: string }): string {
  if (record.payloadBase64 !== undefined)
    return `not UTF-8, ${Buffer.from(record.payloadBase64, 'base64').length} bytes, base64 ${clip(record.payloadBase64)}`
  if (record.payload === null || record.payload === undefined) return 'no payload'
  if (record.payload === '') return 'empty payload'
  // Control characters would garble the terminal: such payloads are shown escaped, as JSON.
  return clip(hasControlCharacters(record.payload) ? JSON.stringify(record.payload) : record.payload)
}

function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true
  }
  return false
}

function clip(text: string): string {
  return text.length > PAYLOAD_SHOWN ? `${text.slice(0, PAYLOAD_SHOWN)}… (${text.length} characters)` : text
}
