// The configuration of a local cluster's node (server.properties) and its cluster id.
import { randomUUID } from 'node:crypto'

// Controllers listen 10000 ports above their broker.
export const CONTROLLER_PORT_OFFSET = 10_000

/** `listeners`: the listener lines of a secure cluster, in place of the plaintext ones. */
export function serverProperties(
  id: number,
  nodes: number,
  basePort: number,
  logDir: string,
  listeners: string[] | undefined
): string {
  const brokerPort = basePort + id - 1
  const voters = Array.from(
    { length: nodes },
    (_, i) => `${i + 1}@127.0.0.1:${basePort + CONTROLLER_PORT_OFFSET + i}`
  ).join(',')
  const replication = Math.min(nodes, 3)
  const minIsr = nodes >= 3 ? 2 : 1
  return [
    'process.roles=broker,controller',
    `node.id=${id}`,
    `controller.quorum.voters=${voters}`,
    ...(listeners ?? [
      `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${brokerPort + CONTROLLER_PORT_OFFSET}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT'
    ]),
    `log.dirs=${logDir}`,
    // Topics are created explicitly, with the partitions and configs each one needs.
    'auto.create.topics.enable=false',
    'num.partitions=1',
    `default.replication.factor=${replication}`,
    `min.insync.replicas=${minIsr}`,
    `offsets.topic.replication.factor=${replication}`,
    'offsets.topic.num.partitions=10',
    `transaction.state.log.replication.factor=${replication}`,
    `transaction.state.log.min.isr=${minIsr}`,
    'transaction.state.log.num.partitions=10',
    // Tests and the demo start many short-lived groups; a rebalance delay only slows them.
    'group.initial.rebalance.delay.ms=0',
    'log.segment.bytes=268435456',
    ''
  ].join('\n')
}

/**
 * A KRaft cluster id: 16 random bytes in URL-safe base64 without padding; never one that starts
 * with '-', which the storage tool would take for an option (Kafka's own ids avoid it too).
 */
export function kafkaClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url')
    if (!id.startsWith('-')) return id
  }
}
