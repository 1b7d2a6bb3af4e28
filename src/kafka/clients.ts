// Factories for the Kafka clients, with the settings the runtime depends on. Each setting
// here works around a behaviour of the client that would otherwise break exactly-once. Every
// client authenticates and encrypts as the process's Kafka security says (security.ts).
import { Consumer, Producer } from '@platformatic/kafka'
import { clientSecurityOptions } from './security.ts'

/** The client types, as the rest of the code names them. */
export type KafkaConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>
export type KafkaProducer = Producer<Buffer, Buffer, Buffer, Buffer>

const TRANSACTION_OPERATIONS = new Set([
  'addPartitionsToTransaction',
  'addOffsetsToTransaction',
  'commit',
  'endTransaction'
])

/** A consumer used for group membership and raw fetches only (never its message stream). */
export function createConsumer(
  brokers: string[],
  clientId: string,
  groupId: string
): Consumer<Buffer, Buffer, Buffer, Buffer> {
  return new Consumer({
    ...clientSecurityOptions(),
    clientId,
    groupId,
    bootstrapBrokers: brokers,
    autocommit: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 30_000,
    protocols: [{ name: 'cooperative-sticky', version: 3 }]
  })
}

/**
 * A transactional producer. `producerId`/`producerEpoch` -1 make a restarted instance fence
 * its predecessor instead of being fenced itself; `timeout` is also the transaction
 * timeout; and a short retry delay for transaction operations avoids waiting a full second
 * whenever the broker is still writing the previous commit's markers.
 */
export function createTransactionalProducer(
  brokers: string[],
  clientId: string,
  transactionalId: string
): Producer<Buffer, Buffer, Buffer, Buffer> {
  return new Producer({
    ...clientSecurityOptions(),
    clientId,
    bootstrapBrokers: brokers,
    idempotent: true,
    transactionalId,
    producerId: -1n,
    producerEpoch: -1,
    timeout: 30_000,
    retryDelay: (_client, operation) => (TRANSACTION_OPERATIONS.has(operation) ? 10 : 250)
  })
}

/** An idempotent producer: retries never duplicate a record. */
export function createProducer(brokers: string[], clientId: string): Producer<Buffer, Buffer, Buffer, Buffer> {
  return new Producer({ ...clientSecurityOptions(), clientId, bootstrapBrokers: brokers, idempotent: true })
}
