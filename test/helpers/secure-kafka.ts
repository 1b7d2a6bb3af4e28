// A private secured Kafka for the tests of authentication and encryption: one SASL_SSL node
// (`kafka start --secure`) on free ports, in a temporary folder, stopped and deleted when its
// test file ends. The shared broker is never involved.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalKafka } from '../../src/infra/local-kafka.ts'
import type { KafkaSecurity } from '../../src/kafka/security.ts'
import { freePort } from './ports.ts'

export interface SecureKafka {
  brokers: string[]
  /** The variables that point a `cellstream` command at it (the password in a file). */
  env: Record<string, string>
  /** How an in-process client connects to it. */
  security: KafkaSecurity
  /** The client user's password, for tests that look for it where it must not be. */
  password: string
  stop: () => Promise<void>
}

export async function startSecureKafka(): Promise<SecureKafka> {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-secure-kafka-'))
  const local = new LocalKafka({
    dataDir: join(dir, 'kafka'), // Its controller listens 10000 above.
    basePort: await freePort(20_000, 9_000, [10_000]),
    secure: true
  })
  const stop = async (): Promise<void> => {
    await local.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const { brokers } = await local.start(1)
    const security = await local.clientSecurity()
    return { brokers, env: await local.clientEnvironment(), security, password: security.sasl!.password, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
