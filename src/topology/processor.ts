// What a processor node is, and the context a task gives its nodes. A topology is a tree of
// node specs; each task instantiates its own nodes from them, so per-task state (such as
// partial aggregates) is never shared between partitions.
import { errorMessage } from '../lib/errors.ts'
import type { OutgoingRecord, RawRecord, Refusal, StreamRecord } from './records.ts'
import type { PartialAggregates } from './partial-aggregates.ts'

export interface Processor<K, V> {
  process(record: StreamRecord<K, V>): void
}

/** A read-only view of a global table, as joins see it. */
export interface TableView<K, V> {
  get(key: K): V | undefined
}

export interface TaskContext {
  readonly topic: string
  readonly partition: number
  /** Max event time of the records of this partition that reached a windowed aggregation. */
  streamTime: number
  deadLetter(raw: RawRecord, reason: string): void
  late(raw: RawRecord, aggregation: string, windowStart: number): void
  send(record: OutgoingRecord): void
  table<K, V>(name: string): TableView<K, V>
  partials<K, A>(aggregation: string): PartialAggregates<K, A>
  /** The task's instance of a record sink, created on first use. */
  recordSink<K, V>(name: string, create: () => RecordSink<K, V>): RecordSink<K, V>
}

/** Where `toSink` hands records; flushed by the runtime before every commit, so it must be idempotent. */
export interface RecordSink<K, V> {
  add(record: StreamRecord<K, V>): void
  /**
   * Writes what was added. Records refused for their data are returned, not thrown: they go
   * to the dead-letter topic and everything else commits. An outage throws.
   */
  flush(): Promise<Array<Refusal<StreamRecord<K, V>>> | void>
}

export interface NodeSpec {
  readonly name: string
  readonly children: NodeSpec[]
  /** Set on the node that feeds a windowed aggregation: its name. */
  readonly aggregation?: string
  create(ctx: TaskContext, children: Processor<unknown, unknown>[]): Processor<unknown, unknown>
}

/** Instantiates a spec and its subtree for one task. */
export function instantiate(spec: NodeSpec, ctx: TaskContext): Processor<unknown, unknown> {
  return spec.create(
    ctx,
    spec.children.map(child => instantiate(child, ctx))
  )
}

/**
 * Thrown by a deserializer, a timestamp extractor or a step to send the record to dead letters
 * with a reason code of its own: the dead-letter reason is then `<code>: <message>`, and the
 * code alone labels the metric. Any other error's reason is prefixed with the node's name.
 */
export class RecordRejected extends Error {
  readonly reason: string

  constructor(reason: string, message: string) {
    super(`${reason}: ${message}`)
    this.name = 'RecordRejected'
    this.reason = reason
  }
}

/** The dead-letter reason of an error thrown at `node`. */
export function rejectionReason(node: string, error: unknown): string {
  return error instanceof RecordRejected ? error.message : `${node}: ${errorMessage(error)}`
}

/** What `attempt` returns when the user function threw. */
export const FAILED: unique symbol = Symbol('failed')

/**
 * Runs a user function with up to three arguments; if it throws, the record goes to the
 * dead-letter route with the node's name and the error, and FAILED comes back. Only the user
 * function runs inside the guard, so a failure downstream is never blamed on this node. The
 * arguments are passed through rather than captured in a closure: this runs for every record.
 */
export function attempt<A, B, C, T>(
  ctx: TaskContext,
  node: string,
  record: StreamRecord<unknown, unknown>,
  fn: (a: A, b: B, c: C) => T,
  a: A,
  b: B,
  c?: C
): T | typeof FAILED {
  try {
    return fn(a, b, c as C)
  } catch (error) {
    ctx.deadLetter(record.raw, rejectionReason(node, error))
    return FAILED
  }
}

export function forward(children: Processor<unknown, unknown>[], record: StreamRecord<unknown, unknown>): void {
  for (const child of children) child.process(record)
}
