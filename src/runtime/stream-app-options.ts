// What a StreamApp is told, and what it assumes when it is not.
import { levelDbStores, type StoreSupplier } from '../stores/index.ts'
import type { Topology } from '../topology/topology.ts'
import { noMetrics, type EngineMetrics } from './metrics.ts'

export interface StreamAppOptions {
  topology: Topology
  /** Names the consumer group and prefixes internal topics. */
  applicationId: string
  brokers: string[]
  /** This instance's own folder: local stores and its instance id. Never shared by two instances. */
  stateDir: string
  /** Where local stores come from; LevelDB by default. */
  stores?: StoreSupplier
  commitIntervalMs?: number
  idleTimeoutMs?: number
  /** Partitions of each partials topic and changelog; defaults to the largest input. */
  partialsPartitions?: number
  metrics?: EngineMetrics
  log?: (level: 'info' | 'warn' | 'error', message: string) => void
  /** Give up (the loop ends with an UnavailableError) after failing this long; default: never. */
  giveUpAfterMs?: number
  /** The loop counts as stuck (not live) when it has not turned for this long. Default 180 s. */
  stuckAfterMs?: number
}

export type Options = Required<Omit<StreamAppOptions, 'partialsPartitions' | 'giveUpAfterMs'>> &
  Pick<StreamAppOptions, 'partialsPartitions' | 'giveUpAfterMs'>

export function withDefaults(options: StreamAppOptions): Options {
  return {
    commitIntervalMs: 1000,
    idleTimeoutMs: 30_000,
    metrics: noMetrics,
    log: () => {},
    stuckAfterMs: 180_000,
    stores: levelDbStores,
    ...options
  }
}
