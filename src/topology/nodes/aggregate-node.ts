// The source side of a windowed aggregation. For each record: compute its group key (a key
// function that throws sends the record to dead letters), advance the partition's stream
// time, then, for each window the record falls in, either note it late for that window (the
// window's end + grace is already behind the stream time of the record's own partition, so
// the decision is the same on every replay) or fold it into the task's partial aggregate for
// (window, key). A record late for any of its windows goes to the late topic (once). Partials
// leave at the next commit.
// Assembled windows (sliding, session) are not known here: the record folds into the partial
// of its point (its own timestamp, as the window start), or, when the window kind says it is
// late in its partition, is left out as a whole, so that no window the owner has already
// emitted could be missing it.
import { attempt, FAILED, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'
import type { Aggregation } from '../aggregation.ts'
import { closesAt } from '../windows/windows.ts'

export function aggregateNode<K, V, A>(aggregation: Aggregation<K, V, A>): NodeSpec {
  const { name, windows, init, adder, keyOf } = aggregation
  return {
    name,
    aggregation: name,
    children: [],
    create: (ctx: TaskContext, _children: Processor<unknown, unknown>[]) => {
      const partials = ctx.partials<K, A>(name)
      const starts: number[] = []
      return {
        process(record: StreamRecord<unknown, unknown>) {
          const key = attempt(ctx, name, record, keyOf, record.key, record.value as V)
          if (key === FAILED) return
          if (record.timestamp > ctx.streamTime) ctx.streamTime = record.timestamp
          if (windows.assembly !== undefined) {
            const lateness = windows.assembly.lateness(record.timestamp)
            if (lateness.at <= ctx.streamTime) {
              ctx.late(record.raw, name, lateness.start)
              return
            }
            const entry = partials.entry(record.timestamp, key, init)
            const value = attempt(ctx, name, record, adder, key, record.value as V, entry.value)
            if (value !== FAILED) entry.value = value
            return
          }
          const count = windows.startsOf(record.timestamp, starts)
          for (let i = 0; i < count; i++) {
            const start = starts[i]!
            if (closesAt(windows, start) <= ctx.streamTime) {
              ctx.late(record.raw, name, start)
              continue
            }
            const entry = partials.entry(start, key, init)
            const value = attempt(ctx, name, record, adder, key, record.value as V, entry.value)
            if (value === FAILED) return
            entry.value = value
          }
        }
      }
    }
  }
}
