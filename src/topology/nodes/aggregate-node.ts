// The source side of a windowed aggregation. For each record: compute its group key (a key
// function that throws sends the record to dead letters), advance the partition's stream
// time, then either report the record late (its window's end + grace is already behind the
// stream time of its own partition, so the decision is the same on every replay) or fold it
// into the task's partial aggregate for (window, key). Partials leave at the next commit.
import { attempt, FAILED, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'
import type { Aggregation } from '../aggregation.ts'

export function aggregateNode<K, V, A> (aggregation: Aggregation<K, V, A>): NodeSpec {
  const { name, windows, init, adder, keyOf } = aggregation
  return {
    name,
    aggregation: name,
    children: [],
    create: (ctx: TaskContext, _children: Processor<unknown, unknown>[]) => {
      const partials = ctx.partials<K, A>(name)
      return {
        process (record: StreamRecord<unknown, unknown>) {
          const key = attempt(ctx, name, record, keyOf, record.key, record.value as V)
          if (key === FAILED) return
          if (record.timestamp > ctx.streamTime) ctx.streamTime = record.timestamp
          const start = windows.startOf(record.timestamp)
          if (windows.isClosed(start, ctx.streamTime)) {
            ctx.late(record.raw, name, start)
            return
          }
          const entry = partials.entry(start, key, init)
          const value = attempt(ctx, name, record, adder, key, record.value as V, entry.value)
          if (value !== FAILED) entry.value = value
        }
      }
    }
  }
}
