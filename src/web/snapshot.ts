// What the dashboard page receives: everything it shows, as one JSON document refreshed every
// few seconds. Times are epoch seconds, except `at` and `lastCommit` (epoch milliseconds).
import type { ArchiveHour } from './archive-source.ts'
import type { GroupMemberView, PartitionLag } from './group-source.ts'
import type { InstanceView } from './instances-source.ts'
import type { OverQuotaHour, QuotaAlert, UserUsage } from './tables-source.ts'

/** One id's values, aligned with `WindowsView.starts`; null where there is no value (yet). */
export interface Series {
  id: string
  values: Array<number | null>
}

export interface WindowsView {
  /** Window starts, oldest first: closed windows, then `open` open ones. */
  starts: number[]
  open: number
  app: Series[]
  antenna: Series[]
}

export interface AntennaView {
  id: string
  lat: number
  lon: number
  bytes: number
}

export interface PipelineView {
  inputTopic: string
  /** Events per second written to the input topic, and committed by the stream processor. */
  eventsIn: number | undefined
  eventsOut: number | undefined
  lag: number | undefined
  partitions: PartitionLag[]
  groupState: string | undefined
  members: GroupMemberView[]
  /** When the committed offsets or an instance's commit count last moved, as seen from here. */
  lastCommit: number | undefined
  deadLetters: Array<{ reason: string; count: number }>
  late: number | undefined
  alerts: number | undefined
  /** Rows written to `bytes` by the running instances since they started. */
  windowsWritten: number | undefined
  instances: InstanceView[]
  /** Newest first; undefined when the archive folder could not be read. */
  archive: ArchiveHour[] | undefined
}

export interface Snapshot {
  at: number
  windows: WindowsView
  /** The antennas with a known position, and their bytes in `antennaWindow`. */
  antennas: AntennaView[]
  antennaWindow: number | undefined
  topUsers: { hour: number; users: UserUsage[] } | undefined
  alerts: QuotaAlert[]
  overQuota: OverQuotaHour[]
  pipeline: PipelineView
  /** Sources that failed in this refresh, one line each. */
  problems: string[]
}
