// The public DSL. Build a topology with TopologyBuilder, run it with the Kafka runtime or
// the test driver.
export { TopologyBuilder, type StreamOptions } from './builder.ts'
export { KStream, GroupedStream, type KeyValue } from './kstream.ts'
export { WindowedStream, WindowedTable, type AggregateOptions, type ReduceOptions } from './windowed-stream.ts'
export { GlobalTable } from './global-table.ts'
export { TimeWindows } from './windows/time-windows.ts'
export { TumblingWindows } from './windows/tumbling-windows.ts'
export { HoppingWindows } from './windows/hopping-windows.ts'
export type { Windows } from './windows/windows.ts'
export type { WindowSink } from './aggregation.ts'
export { RecordRejected, type RecordSink } from './processor.ts'
export type { Topology } from './topology.ts'
export type { WindowedRecord, OutgoingRecord, RawRecord, Refusal, StreamRecord } from './records.ts'
