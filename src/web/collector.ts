// Gathers the dashboard's snapshot from its sources: PostgreSQL, Kafka (admin API and the
// dead-letter and late-event topics), the running instances and the archive folder. A source
// that fails leaves its part empty and names itself in `problems`; the others still show.
import type { Admin } from '@platformatic/kafka'
import type { Db } from '../db/pool.ts'
import type { Fetcher } from '../kafka/fetcher.ts'
import { headerValue } from '../kafka/fetcher.ts'
import { errorMessage } from '../lib/errors.ts'
import { reasonLabel } from '../runtime/metrics.ts'
import type { TotalType } from '../traffic/types.ts'
import { readArchive, type ArchiveHour } from './archive-source.ts'
import type { S3Archive } from '../archive/s3-archive.ts'
import { readGroup, type GroupView } from './group-source.ts'
import { readInstances } from './instances-source.ts'
import type { OpenWindow, OpenWindowsSource } from './open-windows.ts'
import { RateMeter } from './rate-meter.ts'
import type { AntennaView, PipelineView, Series, Snapshot, WindowsView } from './snapshot.ts'
import { HOURS_SHOWN, readTables, type TablesView } from './tables-source.ts'
import { TopicTally } from './topic-tally.ts'

export interface CollectorOptions {
  db: Db
  admin: Admin
  fetcher: Fetcher
  group: string
  inputTopic: string
  /** Base URLs of the stream instances' HTTP servers (/health, /metrics), asked at each refresh. */
  instances: () => Promise<readonly string[]>
  /** The Parquet archive: a folder (no hours shown when it is not on this machine) or object storage. */
  archiveDir: string | S3Archive
  openWindows: OpenWindowsSource
  /** Where an antenna is; antennas without a position are left off the map. */
  antennaAt: (id: string) => { lat: number; lon: number } | undefined
  /** Wall clock, epoch milliseconds. */
  now?: () => number
}

export class Collector {
  readonly #options: CollectorOptions
  readonly #now: () => number
  readonly #deadLetters: TopicTally
  readonly #late: TopicTally
  readonly #eventsIn = new RateMeter()
  readonly #eventsOut = new RateMeter()
  #commitMark = ''
  #lastCommit: number | undefined

  constructor(options: CollectorOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#deadLetters = new TopicTally(options.fetcher, `${options.inputTopic}-dlq`, record =>
      reasonLabel(headerValue(record, 'cellstream.error.reason') ?? '')
    )
    this.#late = new TopicTally(options.fetcher, `${options.inputTopic}-late`, () => 'late')
  }

  async collect(): Promise<Snapshot> {
    const at = this.#now()
    const problems: string[] = []
    const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await read()
      } catch (error) {
        problems.push(`${what}: ${errorMessage(error)}`)
        return undefined
      }
    }
    const { db, admin, group, inputTopic, archiveDir } = this.#options
    const [tables, groupView, instanceViews, archive, topics] = await Promise.all([
      attempt('PostgreSQL', () => readTables(db)),
      attempt('Kafka consumer group', () => readGroup(admin, group, inputTopic)),
      this.#options.instances().then(readInstances),
      attempt('archive', () => readArchive(archiveDir, HOURS_SHOWN, at / 1000)),
      attempt('Kafka topics', () => admin.listTopics())
    ])
    for (const tally of [this.#deadLetters, this.#late]) {
      // The stream processor creates these topics when it first starts.
      if (topics?.includes(tally.topic) === true) await attempt(tally.topic, () => tally.update())
    }
    const open =
      (await attempt('open windows', () =>
        this.#options.openWindows.openWindows(tables?.latestWindow, Math.floor(at / 1000))
      )) ?? []
    this.#noteCommits(
      at,
      groupView,
      instanceViews.map(i => i.commits ?? 0)
    )
    return {
      at,
      windows: windowsView(tables, open),
      ...this.#antennas(tables),
      topUsers: tables?.topUsers,
      alerts: tables?.alerts ?? [],
      overQuota: tables?.overQuota ?? [],
      pipeline: this.#pipeline(at, groupView, instanceViews, archive, tables?.alertCount, topics !== undefined),
      problems: [
        ...problems,
        ...instanceViews.flatMap(i => (i.error === undefined ? [] : [`instance ${i.url}: ${i.error}`]))
      ]
    }
  }

  #noteCommits(at: number, group: GroupView | undefined, commits: number[]): void {
    const mark = JSON.stringify([group?.partitions.map(p => p.committed), commits])
    if (this.#commitMark !== '' && mark !== this.#commitMark) this.#lastCommit = at
    this.#commitMark = mark
  }

  #antennas(tables: TablesView | undefined): { antennas: AntennaView[]; antennaWindow: number | undefined } {
    const window = tables?.latestWindow
    const antennas: AntennaView[] = []
    for (const total of tables?.windows ?? []) {
      if (total.type !== 'antenna_total_bytes' || total.start !== window) continue
      const position = this.#options.antennaAt(total.id)
      if (position !== undefined)
        antennas.push({ id: total.id, lat: position.lat, lon: position.lon, bytes: total.value })
    }
    return { antennas: antennas.sort((a, b) => (a.id < b.id ? -1 : 1)), antennaWindow: window }
  }

  #pipeline(
    at: number,
    group: GroupView | undefined,
    instances: PipelineView['instances'],
    archive: ArchiveHour[] | undefined,
    alerts: number | undefined,
    kafka: boolean
  ): PipelineView {
    const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)
    const partitions = group?.partitions ?? []
    const running = instances.filter(i => i.windowsWritten !== undefined)
    return {
      inputTopic: this.#options.inputTopic,
      eventsIn: group === undefined ? undefined : this.#eventsIn.rate(at, sum(partitions.map(p => p.end))),
      eventsOut: group === undefined ? undefined : this.#eventsOut.rate(at, sum(partitions.map(p => p.committed ?? 0))),
      lag: group === undefined ? undefined : sum(partitions.map(p => p.lag)),
      partitions,
      groupState: group?.state,
      members: group?.members ?? [],
      lastCommit: this.#lastCommit,
      deadLetters: [...this.#deadLetters.counts]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
      late: kafka ? this.#late.total : undefined,
      alerts,
      windowsWritten: running.length === 0 ? undefined : sum(running.map(i => i.windowsWritten!)),
      instances,
      archive
    }
  }
}

/** The windows shown: the closed ones of the tables, then the open ones with what is known of them. */
export function windowsView(tables: TablesView | undefined, open: OpenWindow[]): WindowsView {
  const closed = new Set<number>()
  for (const total of tables?.windows ?? []) closed.add(total.start)
  const starts = [...closed].sort((a, b) => a - b)
  const openStarts = open.map(w => w.start).filter(start => !closed.has(start))
  starts.push(...openStarts)
  const series = (type: TotalType): Series[] => {
    const values = new Map<string, Array<number | null>>()
    const set = (id: string, start: number, value: number): void => {
      let row = values.get(id)
      if (row === undefined) values.set(id, (row = starts.map(() => null)))
      row[starts.indexOf(start)] = value
    }
    for (const total of tables?.windows ?? []) if (total.type === type) set(total.id, total.start, total.value)
    for (const window of open)
      for (const [id, value] of window.totals?.[type] ?? [])
        if (openStarts.includes(window.start)) set(id, window.start, value)
    // Closed windows without a row for an id had no traffic from it: zero, not unknown.
    for (const row of values.values()) for (let i = 0; i < starts.length - openStarts.length; i++) row[i] ??= 0
    return [...values].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, row]) => ({ id, values: row }))
  }
  return { starts, open: openStarts.length, app: series('app_total_bytes'), antenna: series('antenna_total_bytes') }
}
