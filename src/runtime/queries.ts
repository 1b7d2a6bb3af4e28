// Interactive queries: reading an aggregation's windows, the ones still open included, from
// the running instances, as Kafka Streams' interactive queries do. A key's windows live in
// one owner partition (Kafka's murmur2 of the key bytes, as partials are routed), held by one
// instance of the group; every instance announces its HTTP address and its partitions in the
// compacted topic `<app>-instances` with each new assignment (in the commit's transaction), so
// any instance can say where a key's windows are, and the HTTP side (web/queries.ts) forwards
// the question there.
import { partitionForKey } from '../lib/hash.ts'
import { topicPartition, type OutgoingRecord } from '../lib/records.ts'
import { readToEnd, type Fetcher } from '../kafka/fetcher.ts'
import { instancesTopic } from './internal-topics.ts'
import type { AggregationPlan, Plan } from './plan.ts'
import type { Owner } from './task-manager.ts'

/** One window of an aggregation as an instance holds it now. */
export interface WindowState {
  key: unknown
  start: number
  end: number
  value: unknown
  /** Emitted to its outputs already (closed); false while the window is open. */
  emitted: boolean
}

/** What an instance announces: where it answers queries, and which partitions it holds. */
export interface InstanceInfo {
  instance: string
  /** Base URL of its HTTP server, e.g. http://10.0.0.7:8080; none when it serves no HTTP. */
  url?: string
  partitions: string[]
  generation: number
}

/** The windows of `aggregation` held by these owners, of one key or all. */
export function localWindows(owners: Iterable<Owner>, aggregation: string, key?: unknown): WindowState[] {
  const windows: WindowState[] = []
  for (const { plan, task } of owners) {
    if (plan.aggregation.name !== aggregation) continue
    const identity = key === undefined ? undefined : plan.aggregation.identity(key)
    for (const entry of task.windowEntries()) {
      if (identity !== undefined && plan.aggregation.identity(entry.key) !== identity) continue
      windows.push({
        key: entry.key,
        start: entry.start,
        end: entry.end,
        value: entry.value,
        emitted: entry.emitted
      })
    }
  }
  return windows.sort((a, b) => a.start - b.start)
}

/** The owner partition (`topic:partition`) of a key of an aggregation. */
export function ownerOf(plan: Plan, aggregation: string, key: unknown): string {
  const owning = aggregationPlan(plan, aggregation)
  return topicPartition(owning.topic, partitionForKey(owning.aggregation.key.serialize(key), owning.partitions))
}

export function aggregationPlan(plan: Plan, aggregation: string): AggregationPlan {
  const owning = plan.aggregations.find(a => a.aggregation.name === aggregation)
  if (owning === undefined)
    throw new UnknownAggregation(
      aggregation,
      plan.aggregations.map(a => a.aggregation.name)
    )
  return owning
}

/** The record announcing an instance (or, with no info, its leaving: a tombstone). */
export function announcement(applicationId: string, instance: string, info: InstanceInfo | undefined): OutgoingRecord {
  return {
    topic: instancesTopic(applicationId),
    partition: 0,
    key: Buffer.from(instance),
    value: info === undefined ? null : Buffer.from(JSON.stringify(info))
  }
}

/**
 * What this instance has to announce at its next commit: its partitions after each rebuild
 * (or a new URL), its leaving at the last commit. An announcement is done once a commit
 * carrying it went through.
 */
export class Announcer {
  readonly #applicationId: string
  readonly #instance: string
  #url: string | undefined
  #pending: 'assignment' | 'leaving' | undefined

  constructor(applicationId: string, instance: string) {
    this.#applicationId = applicationId
    this.#instance = instance
  }

  /** The base URL this instance answers queries on. */
  advertise(url: string): void {
    this.#url = url
    this.#pending = 'assignment'
  }

  assigned(): void {
    this.#pending = 'assignment'
  }

  leaving(): void {
    this.#pending = 'leaving'
  }

  /** The record for the next commit, if any, and a token to pass to `done` once it committed. */
  take(partitions: string[], generation: number): { record: OutgoingRecord; token: string } | undefined {
    const what = this.#pending
    if (what === undefined) return undefined
    const info = what === 'leaving' ? undefined : { instance: this.#instance, url: this.#url, partitions, generation }
    return { record: announcement(this.#applicationId, this.#instance, info), token: what }
  }

  done(token: string): void {
    if (this.#pending === token) this.#pending = undefined
  }
}

/** Every instance announced and not gone, newest generation first. */
export async function announcedInstances(fetcher: Fetcher, applicationId: string): Promise<InstanceInfo[]> {
  const instances = new Map<string, InstanceInfo>()
  for await (const batch of readToEnd(fetcher, instancesTopic(applicationId), new Map([[0, 0n]]))) {
    for (const record of batch) {
      if (record.key === null) continue
      if (record.value === null) instances.delete(record.key.toString())
      else instances.set(record.key.toString(), JSON.parse(record.value.toString()) as InstanceInfo)
    }
  }
  return [...instances.values()].sort((a, b) => b.generation - a.generation)
}

/** Questions one instance answers about its aggregations' windows, and where to ask the others. */
export class InstanceQueries {
  readonly #plan: Plan
  readonly #owners: ReadonlyMap<string, Owner>
  readonly #fetcher: Fetcher
  readonly #instance: string
  /** The last read of the instances topic: one read at a time, reused for a second. */
  #instances: { at: number; read: Promise<InstanceInfo[]> } | undefined

  constructor(options: { plan: Plan; owners: ReadonlyMap<string, Owner>; fetcher: Fetcher; instance: string }) {
    this.#plan = options.plan
    this.#owners = options.owners
    this.#fetcher = options.fetcher
    this.#instance = options.instance
  }

  /** The windows of `aggregation` this instance holds now, open ones included: of one key, or all. */
  localWindows(aggregation: string, key?: unknown): WindowState[] {
    aggregationPlan(this.#plan, aggregation)
    return localWindows(this.#owners.values(), aggregation, key)
  }

  /** A key given as text (its serialized bytes in UTF-8), as the aggregation's key. */
  parseKey(aggregation: string, text: string): unknown {
    return aggregationPlan(this.#plan, aggregation).aggregation.key.deserialize(Buffer.from(text))
  }

  /** Where a key's windows are: here, or the URL of the instance that holds them (none while the group rebalances). */
  async locate(aggregation: string, key: unknown): Promise<{ here: true } | { here: false; url: string | undefined }> {
    const owner = ownerOf(this.#plan, aggregation, key)
    if (this.#owners.has(owner)) return { here: true }
    const holder = (await this.instances()).find(
      instance => instance.instance !== this.#instance && instance.partitions.includes(owner)
    )
    return { here: false, url: holder?.url }
  }

  /** Whether `instance` is this one. */
  isThis(instance: string): boolean {
    return instance === this.#instance
  }

  /** Every instance of the group, as announced, newest generation first. */
  async instances(): Promise<InstanceInfo[]> {
    const last = this.#instances
    if (last === undefined || Date.now() - last.at > 1000) {
      const previous = last?.read.catch(() => [])
      const read = (async () => {
        await previous
        return await announcedInstances(this.#fetcher, this.#plan.applicationId)
      })()
      this.#instances = { at: Date.now(), read }
    }
    return await this.#instances!.read
  }
}

export class UnknownAggregation extends Error {
  constructor(name: string, known: string[]) {
    super(`no aggregation '${name}'; this application has ${known.join(', ')}`)
    this.name = 'UnknownAggregation'
  }
}
