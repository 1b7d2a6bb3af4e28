// flatMap: one record in, zero or more out, each with the input's event time and source.
import { attempt, FAILED, forward, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function flatMapNode<K, V, K2, V2>(
  name: string,
  mapper: (key: K, value: V) => Iterable<{ key: K2; value: V2 }>
): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, children: Processor<unknown, unknown>[]) => ({
      process(record: StreamRecord<unknown, unknown>) {
        const result = attempt(ctx, name, record, (k: K, v: V) => [...mapper(k, v)], record.key as K, record.value as V)
        if (result === FAILED) return
        for (const out of result)
          forward(children, { key: out.key, value: out.value, timestamp: record.timestamp, raw: record.raw })
      }
    })
  }
}
