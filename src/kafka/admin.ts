// Thin adapter over the Kafka admin client: reachability checks and idempotent topic
// creation, with failures turned into one-line UnavailableErrors.
import { Admin } from '@platformatic/kafka'
import { UnavailableError, errorMessage } from '../lib/errors.ts'
import { topicPartition } from '../lib/records.ts'
import { clientSecurityOptions, describeKafkaSecurity, kafkaSecurity, type KafkaSecurity } from './security.ts'

/** The admin client, as the rest of the code names it. */
export type KafkaAdmin = Admin

export interface TopicSpec {
  name: string
  partitions: number
  /** Replication factor; the broker's `default.replication.factor` when not given. */
  replicas?: number
  /** Topic configs such as `cleanup.policy: compact`. */
  config?: Record<string, string>
}

/** `security`: the process's own unless given (the local cluster checks itself with its own). */
export function createAdmin(
  brokers: string[],
  clientId = 'cellstream-admin',
  security: KafkaSecurity = kafkaSecurity()
): Admin {
  return new Admin({
    ...clientSecurityOptions(security),
    clientId,
    bootstrapBrokers: brokers,
    retries: 2,
    retryDelay: 250,
    connectTimeout: 2000
  })
}

export async function withAdmin<T>(
  brokers: string[],
  fn: (admin: Admin) => Promise<T>,
  security: KafkaSecurity = kafkaSecurity()
): Promise<T> {
  const admin = createAdmin(brokers, 'cellstream-admin', security)
  try {
    return await fn(admin)
  } finally {
    await admin.close().catch(() => {})
  }
}

/** Resolves with the number of brokers in the cluster, or throws an UnavailableError. */
export async function pingKafka(brokers: string[], security: KafkaSecurity = kafkaSecurity()): Promise<number> {
  try {
    return await withAdmin(
      brokers,
      async admin => {
        const metadata = await admin.metadata({ topics: [] })
        return metadata.brokers.size
      },
      security
    )
  } catch (error) {
    throw new UnavailableError(describeKafkaFailure(error, brokers, security), error)
  }
}

/**
 * One line saying why Kafka cannot be used: a refused login or a certificate not trusted is
 * told as such (with how the client connects), since waiting will not cure it.
 */
export function describeKafkaFailure(error: unknown, brokers: string[], security = kafkaSecurity()): string {
  const how = describeKafkaSecurity(security)
  const where = how === 'plaintext' ? brokers.join(',') : `${brokers.join(',')} (${how})`
  const causes = causeMessages(error)
  if (causes.some(m => /SASL authentication failed|Authentication failed/i.test(m)))
    return `Kafka refused the login at ${where}: SASL authentication failed (check KAFKA_SASL_USERNAME, its password and KAFKA_SASL_MECHANISM)`
  // A broker closes the connection on a client that speaks plaintext to TLS, or skips the login.
  if (causes.some(m => /Connection closed/i.test(m)) && (security.tls === undefined || security.sasl === undefined)) {
    const hint =
      security.tls === undefined
        ? 'if it takes TLS only, set KAFKA_TLS=true'
        : 'if it requires a login, set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD'
    return `cannot connect to Kafka at ${where}: the broker closed the connection (${hint})`
  }
  if (causes.some(m => /SASL mechanism|suitable SASL/i.test(m)))
    return `Kafka does not accept the SASL mechanism at ${where}: ${causes.at(-1)}`
  const tls = causes.find(m => /certificate|self[- ]signed|TLS|SSL|altnames/i.test(m))
  if (tls !== undefined) {
    // Node's hint about its own CA store does not apply: the CA comes from KAFKA_TLS_CA_FILE.
    const reason = tls.replace(/; if the root CA is installed locally.*$/, '')
    const hint = /verify|self[- ]signed|issuer/i.test(reason)
      ? ' (KAFKA_TLS_CA_FILE names the CA that signs its certificate)'
      : ''
    return `cannot connect to Kafka at ${where}: ${reason}${hint}`
  }
  return `Kafka is not reachable at ${where}: ${leafMessage(error)}`
}

/** Every message along an error's `errors` and `cause` chains, outermost first. */
function causeMessages(error: unknown, seen = new Set<unknown>()): string[] {
  if (error === null || error === undefined || seen.has(error)) return []
  seen.add(error)
  const messages = [errorMessage(error)]
  const { errors, cause } = error as { errors?: unknown[]; cause?: unknown }
  if (Array.isArray(errors)) for (const nested of errors) messages.push(...causeMessages(nested, seen))
  messages.push(...causeMessages(cause, seen))
  return messages
}

/** Creates each topic that does not exist yet; existing topics are left as they are. */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics())
  for (const spec of specs) {
    if (existing.has(spec.name)) continue
    try {
      await admin.createTopics({
        topics: [spec.name],
        partitions: spec.partitions,
        // -1: the cluster's default, so that internal topics on a three-node cluster survive
        // the loss of a broker, while a single broker still gets one replica.
        replicas: spec.replicas ?? -1,
        configs: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value }))
      })
    } catch (error) {
      // Another instance may have created it between the listing and now.
      if (!leafMessages(error).every(m => /already exists/i.test(m))) {
        throw new UnavailableError(`cannot create topic ${spec.name}: ${leafMessage(error)}`, error)
      }
    }
  }
}

/** Kafka's default max.message.bytes: the largest record batch a topic takes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588

/** Each topic's max.message.bytes (its own setting, or the broker's default); missing topics are left out. */
export async function messageLimits(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const limits = new Map<string, number>()
  if (topics.length === 0) return limits
  const existing = new Set(await admin.listTopics())
  const resources = topics
    .filter(topic => existing.has(topic))
    .map(resourceName => ({ resourceType: 2 as const, resourceName, configurationKeys: ['max.message.bytes'] }))
  if (resources.length === 0) return limits
  for (const description of await admin.describeConfigs({ resources })) {
    const value = Number(description.configs.find(c => c.name === 'max.message.bytes')?.value)
    if (Number.isSafeInteger(value) && value > 0) limits.set(description.resourceName, value)
  }
  return limits
}

/**
 * The group's committed offsets of `partitions`, by `topic:partition` (missing: never
 * committed). `requireStable` waits for a transaction in flight that commits some.
 */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  partitions: Array<{ topic: string; partition: number }>
): Promise<Map<string, bigint>> {
  const result = new Map<string, bigint>()
  if (partitions.length === 0) return result
  const topics = new Map<string, number[]>()
  for (const { topic, partition } of partitions) topics.set(topic, [...(topics.get(topic) ?? []), partition])
  const groups = (await admin.listConsumerGroupOffsets({
    groups: [{ groupId, topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }],
    requireStable: true
  } as never)) as Array<{
    topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; committedOffset: bigint }> }>
  }>
  for (const group of groups) {
    for (const topic of group.topics)
      for (const p of topic.partitions)
        if (p.committedOffset >= 0n) result.set(topicPartition(topic.name, p.partitionIndex), p.committedOffset)
  }
  return result
}

export async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const metadata = await admin.metadata({ topics: [topic] })
  const info = metadata.topics.get(topic)
  if (info === undefined) throw new UnavailableError(`topic ${topic} does not exist`)
  return info.partitionsCount
}

/** The client nests causes in `errors` arrays; the innermost messages say what happened. */
function leafMessages(error: unknown): string[] {
  const nested = (error as { errors?: unknown[] } | null)?.errors
  if (Array.isArray(nested) && nested.length > 0) return nested.flatMap(leafMessages)
  return [errorMessage(error)]
}

export function leafMessage(error: unknown): string {
  return [...new Set(leafMessages(error))].join('; ')
}
