// to(topic): serializes the record and hands it to the task's producer, inside the task's
// transaction. A serializer that throws sends the record to dead letters.
import { attempt, FAILED, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'
import type { Serde } from '../../lib/serdes.ts'

export interface SinkSerdes<K, V> {
  key?: Serde<K>
  value: Serde<V>
}

export function sinkNode<K, V>(name: string, topic: string, serdes: SinkSerdes<K, V>): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, _children: Processor<unknown, unknown>[]) => ({
      process(record: StreamRecord<unknown, unknown>) {
        const result = attempt(
          ctx,
          name,
          record,
          (k: unknown, v: V) => ({
            key: k === null || k === undefined || serdes.key === undefined ? null : serdes.key.serialize(k as K),
            value: serdes.value.serialize(v)
          }),
          record.key,
          record.value as V
        )
        if (result !== FAILED) ctx.send({ topic, ...result })
      }
    })
  }
}
