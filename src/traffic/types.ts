// The antenna domain's records, as the application and its sinks see them.

/** A valid antenna event (event-codec.ts says what valid is). */
export interface TrafficEvent {
  bytes: number
  /** Epoch seconds. */
  timestamp: number
  app: string
  id: string
  antenna_id: string
}

/** A row of user_metadata, as the metadata topic carries it. */
export interface UserMetadata {
  id: string
  name: string
  email: string
  quota: number
}

/** A valid event joined with its user's metadata (null when the user is unknown). */
export interface EnrichedEvent extends TrafficEvent {
  email: string | null
  quota: number | null
}

/** What a 5-minute total counts, as `bytes.type` says. */
export type TotalType = 'antenna_total_bytes' | 'user_total_bytes' | 'app_total_bytes'

/** A user's usage in one UTC hour, for live quota alerts. */
export interface HourlyUsage {
  usage: number
  quota: number | null
  email: string | null
  /** The alert for this hour was sent. */
  alerted: boolean
}
