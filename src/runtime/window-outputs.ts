// Delivers the windows an owner task emits: to output topics (inside the commit's
// transaction, window bounds in headers) and to sinks (flushed as windows close, and again
// before each commit). A window a sink refuses for its data becomes a dead letter: its key and
// value serialized as the aggregation stores them, the window and the sink in headers.
import type { Aggregation, WindowOutput, WindowSink } from '../topology/aggregation.ts'
import type { OutgoingRecord, WindowedRecord } from '../topology/records.ts'
import { noMetrics, type EngineMetrics } from './metrics.ts'
import { DEAD_LETTER_HEADERS, refusalReason } from './source-task.ts'

export const WINDOW_HEADERS = {
  start: 'cellstream.window.start',
  end: 'cellstream.window.end',
  aggregation: 'cellstream.aggregation'
} as const

export class WindowOutputs<K, A> {
  readonly #aggregation: Aggregation<K, unknown, A>
  readonly #metrics: EngineMetrics
  readonly #deadLetterTopic: string | undefined
  readonly sinks: Map<string, WindowSink<K, A>>
  /** When the oldest window handed to the sinks since their last flush closed. */
  #pendingSince: number | undefined

  constructor(aggregation: Aggregation<K, unknown, A>, metrics: EngineMetrics = noMetrics, deadLetterTopic?: string) {
    this.#aggregation = aggregation
    this.#metrics = metrics
    this.#deadLetterTopic = deadLetterTopic
    this.sinks = new Map()
    for (const output of [...aggregation.outputs, ...aggregation.watches.flatMap(w => w.outputs)]) {
      if (output.kind === 'sink') this.sinks.set(output.name, output.create())
    }
  }

  /** Delivers what a watch emitted to that watch's outputs. */
  emitWatched(watch: string, windows: WindowedRecord<K, A>[]): OutgoingRecord[] {
    const outputs = this.#aggregation.watches.find(w => w.name === watch)?.outputs ?? []
    if (windows.length > 0) this.#metrics.watchEmitted(watch, windows.length)
    return this.#deliver(outputs, windows)
  }

  /** Hands the windows to the sinks and returns the records for the output topics. */
  emit(windows: WindowedRecord<K, A>[]): OutgoingRecord[] {
    return this.#deliver(this.#aggregation.outputs, windows)
  }

  #deliver(outputs: WindowOutput<K, A>[], windows: WindowedRecord<K, A>[]): OutgoingRecord[] {
    if (windows.length === 0) return []
    const records: OutgoingRecord[] = []
    for (const output of outputs) {
      if (output.kind === 'sink') {
        this.sinks.get(output.name)!.add(windows)
        this.#pendingSince ??= Date.now()
        continue
      }
      for (const window of windows) {
        records.push({
          topic: output.topic,
          key: output.key.serialize(window.key),
          value: output.value.serialize(window.value),
          headers: { [WINDOW_HEADERS.start]: String(window.start), [WINDOW_HEADERS.end]: String(window.end) }
        })
      }
    }
    return records
  }

  /** Flushes every sink; returns the dead letters of the windows they refused. */
  async flush(): Promise<OutgoingRecord[]> {
    const since = this.#pendingSince
    this.#pendingSince = undefined
    const letters: OutgoingRecord[] = []
    for (const [name, sink] of this.sinks) {
      for (const { record, error } of (await sink.flush()) ?? []) {
        const reason = refusalReason(name, error)
        this.#metrics.deadLetter(reason)
        if (this.#deadLetterTopic !== undefined) letters.push(this.#deadLetter(record, reason, name))
      }
    }
    if (since !== undefined) this.#metrics.windowsDelivered(this.#aggregation.name, Date.now() - since)
    return letters
  }

  #deadLetter(window: WindowedRecord<K, A>, reason: string, sink: string): OutgoingRecord {
    const { key, value, name } = this.#aggregation
    return {
      topic: this.#deadLetterTopic!,
      key: key.serialize(window.key),
      value: value.serialize(window.value),
      headers: {
        [DEAD_LETTER_HEADERS.reason]: reason,
        [DEAD_LETTER_HEADERS.sink]: sink,
        [WINDOW_HEADERS.aggregation]: name,
        [WINDOW_HEADERS.start]: String(window.start),
        [WINDOW_HEADERS.end]: String(window.end)
      }
    }
  }
}
