// filter: passes on the records for which the predicate holds, drops the others (a filter
// drop is a decision, not an error). A predicate that throws sends the record to dead letters.
import { attempt, FAILED, forward, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function filterNode<K, V>(name: string, predicate: (key: K, value: V) => boolean): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, children: Processor<unknown, unknown>[]) => ({
      process(record: StreamRecord<unknown, unknown>) {
        const keep = attempt(ctx, name, record, predicate, record.key as K, record.value as V)
        if (keep !== FAILED && keep) forward(children, record)
      }
    })
  }
}
