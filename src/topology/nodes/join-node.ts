// join / leftJoin with a global table: looks up the table by a key taken from the record.
// Inner join drops records without a match; left join passes them on with `undefined`. The
// table is the one replicated to this instance, as of the moment the record is processed.
import { attempt, FAILED, forward, type NodeSpec, type Processor, type TaskContext } from '../processor.ts'
import type { StreamRecord } from '../records.ts'

export function joinNode<K, V, TK, TV, R>(
  name: string,
  table: string,
  keyOf: (key: K, value: V) => TK,
  joiner: (value: V, match: TV | undefined) => R,
  left: boolean
): NodeSpec {
  return {
    name,
    children: [],
    create: (ctx: TaskContext, children: Processor<unknown, unknown>[]) => {
      const view = ctx.table<TK, TV>(table)
      // Made once, not per record.
      const lookup = (k: K, v: V): TV | undefined => view.get(keyOf(k, v))
      return {
        process(record: StreamRecord<unknown, unknown>) {
          const match = attempt(ctx, name, record, lookup, record.key as K, record.value as V)
          if (match === FAILED || (match === undefined && !left)) return
          const value = attempt(ctx, name, record, joiner, record.value as V, match)
          if (value !== FAILED)
            forward(children, { key: record.key, value, timestamp: record.timestamp, raw: record.raw })
        }
      }
    }
  }
}
