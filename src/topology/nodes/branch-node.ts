// branch: sends each record to the first branch whose predicate holds; records matching no
// branch are dropped. Branches are created with the node, one child spec per predicate.
import { attempt, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function branchNode<K, V> (name: string, predicates: Array<(key: K, value: V) => boolean>): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, children: Processor<unknown, unknown>[]) => ({
      process (record: StreamRecord<unknown, unknown>) {
        const result = attempt(ctx, name, record, () => predicates.findIndex(p => p(record.key as K, record.value as V)))
        if (result.ok && result.value >= 0) children[result.value]!.process(record)
      }
    })
  }
}
