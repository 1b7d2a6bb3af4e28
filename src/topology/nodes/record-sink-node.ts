// toSink(name, create): hands each record to the task's instance of a sink (an archive, a
// table), which the runtime flushes before each commit: the sink holds the records until the
// offsets that cover them are committed, so a crash replays them into it (at least once).
import type { NodeSpec, Processor, RecordSink, TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function recordSinkNode<K, V>(name: string, create: () => RecordSink<K, V>): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, _children: Processor<unknown, unknown>[]) => {
      const sink = ctx.recordSink(name, create)
      return {
        process(record: StreamRecord<unknown, unknown>) {
          sink.add(record as StreamRecord<K, V>)
        }
      }
    }
  }
}
