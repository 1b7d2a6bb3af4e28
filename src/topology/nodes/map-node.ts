// map / mapValues: one record in, one record out, event time and source kept. A mapper that
// throws sends the record to dead letters: that is how a step rejects a record.
import { attempt, FAILED, forward, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function mapNode<K, V, K2, V2>(name: string, mapper: (key: K, value: V) => { key: K2; value: V2 }): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, children: Processor<unknown, unknown>[]) => ({
      process(record: StreamRecord<unknown, unknown>) {
        const result = attempt(ctx, name, record, mapper, record.key as K, record.value as V)
        if (result !== FAILED)
          forward(children, { key: result.key, value: result.value, timestamp: record.timestamp, raw: record.raw })
      }
    })
  }
}
