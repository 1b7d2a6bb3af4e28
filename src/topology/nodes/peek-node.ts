// peek: calls a function with each record for its side effect (logs, metrics) and passes
// the record on unchanged. A function that throws sends the record to dead letters.
import { attempt, FAILED, forward, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function peekNode<K, V>(name: string, action: (key: K, value: V) => void): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, children: Processor<unknown, unknown>[]) => ({
      process(record: StreamRecord<unknown, unknown>) {
        if (attempt(ctx, name, record, action, record.key as K, record.value as V) !== FAILED) forward(children, record)
      }
    })
  }
}
