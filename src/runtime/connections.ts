// The clients one instance runs on, opened in the order exactly-once needs and closed in
// reverse: the admin (the plan, the application's topics and their limits), the global tables
// loaded whole, the transactional producer registered before joining (which fences a killed
// predecessor of the same state folder at once), then the group membership and its fetcher.
import { createAdmin, ensureTopics, messageLimits, type KafkaAdmin } from '../kafka/admin.ts'
import { READ_UNCOMMITTED, type Fetcher } from '../kafka/fetcher.ts'
import { GroupMember } from '../kafka/group.ts'
import { TransactionalProducer } from '../kafka/transactions.ts'
import type { Topology } from '../topology/topology.ts'
import { makePlan, type Plan } from './plan.ts'
import { GlobalTables } from './global-tables.ts'
import { TopicLimits } from './topic-limits.ts'
import { applicationTopics, isInternalTopic } from './internal-topics.ts'
import { Committer } from './committer.ts'

/** How long registering the transactional id at start may take (the client retries without end). */
const REGISTER_TIMEOUT_MS = 60_000

export interface ConnectionOptions {
  topology: Topology
  applicationId: string
  brokers: string[]
  instanceId: string
  partialsPartitions?: number
  log: (level: 'info' | 'warn' | 'error', message: string) => void
}

export class Connections {
  admin: KafkaAdmin | undefined
  plan: Plan | undefined
  limits: TopicLimits | undefined
  tableReader: GroupMember | undefined
  tables: GlobalTables | undefined
  producer: TransactionalProducer | undefined
  committer: Committer | undefined
  member: GroupMember | undefined
  fetcher: Fetcher | undefined
  /** A client of its own for interactive queries: a fetcher serves one request at a time, and the loop's is always busy. */
  queryReader: GroupMember | undefined
  queryFetcher: Fetcher | undefined

  /** Opens everything but the group join; on failure closes what it opened. */
  static async open(options: ConnectionOptions): Promise<Connections> {
    const connections = new Connections()
    try {
      await connections.#open(options)
    } catch (error) {
      // Open clients would keep the process alive.
      await connections.close()
      throw error
    }
    return connections
  }

  async #open({
    topology,
    applicationId,
    brokers,
    instanceId,
    partialsPartitions,
    log
  }: ConnectionOptions): Promise<void> {
    const admin = (this.admin = createAdmin(brokers, `${applicationId}-admin`))
    const inputPartitions = new Map<string, number>()
    for (const source of topology.sources) {
      const info = (await admin.metadata({ topics: [source.topic] })).topics.get(source.topic)
      if (info === undefined) throw new Error(`input topic ${source.topic} does not exist`)
      inputPartitions.set(source.topic, info.partitionsCount)
    }
    const plan = (this.plan = makePlan(topology, applicationId, inputPartitions, partialsPartitions))
    const inputLimits = await messageLimits(admin, [...inputPartitions.keys()])
    await ensureTopics(admin, applicationTopics(plan, Math.max(0, ...inputLimits.values())))
    this.limits = new TopicLimits(admin, topology.deadLetterTopic, topic => isInternalTopic(applicationId, topic))

    this.tableReader = new GroupMember(brokers, `${applicationId}-tables-${instanceId}`, `${applicationId}-tables`)
    this.tables = new GlobalTables(
      this.tableReader.fetcher({ isolationLevel: READ_UNCOMMITTED, maxWaitMs: 250 }),
      topology.globalTables,
      message => log('warn', message)
    )
    await this.tables.start()

    this.producer = new TransactionalProducer(brokers, `${applicationId}-${instanceId}`)
    await this.producer.register(REGISTER_TIMEOUT_MS)
    this.committer = new Committer(this.producer, this.limits)
    this.member = new GroupMember(brokers, `${applicationId}-${instanceId}`, applicationId)
    // A response's records stay alive until processed, and the prefetch keeps a second one:
    // small responses keep that short-lived, so the garbage collector reclaims it young.
    this.fetcher = this.member.fetcher({ maxBytes: 1 << 20, partitionMaxBytes: 256 << 10, maxWaitMs: 100 })
    this.queryReader = new GroupMember(brokers, `${applicationId}-queries-${instanceId}`, `${applicationId}-queries`)
    this.queryFetcher = this.queryReader.fetcher({ maxWaitMs: 10 })
  }

  /** Leaves the group (its partitions move at once instead of after the session timeout), then closes the rest. */
  async close(): Promise<void> {
    await this.member?.close()
    await this.producer?.close()
    await this.tables?.stop().catch(() => {})
    await this.tableReader?.close()
    await this.queryReader?.close()
    await this.admin?.close().catch(() => {})
  }
}
