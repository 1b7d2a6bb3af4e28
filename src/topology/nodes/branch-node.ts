// branch: sends each record to the first branch whose predicate holds; records matching no
// branch are dropped. Branches are created with the node, one child spec per predicate.
import { attempt, FAILED, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function branchNode<K, V>(name: string, predicates: Array<(key: K, value: V) => boolean>): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, children: Processor<unknown, unknown>[]) => ({
      process(record: StreamRecord<unknown, unknown>) {
        const branch = attempt(
          ctx,
          name,
          record,
          (k: K, v: V) => predicates.findIndex(p => p(k, v)),
          record.key as K,
          record.value as V
        )
        if (branch !== FAILED && branch >= 0) children[branch]!.process(record)
      }
    })
  }
}
