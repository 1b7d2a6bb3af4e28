// A private secured Kafka for the tests of authentication and encryption: one SASL_SSL node
// (`cellstream kafka start --secure`) on free ports, in a temporary folder, stopped and
// deleted when its test file ends. The shared broker is never involved.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kafkaSecuritySettingsFromEnv, resolveKafkaSecurity, type KafkaSecurity } from '../../src/kafka/security.ts'
import { parseBrokers } from '../../src/lib/options.ts'
import { cellstream } from './cli.ts'
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

/** Starts it with `cellstream kafka start --secure`, and takes the variables it prints. */
export async function startSecureKafka(): Promise<SecureKafka> {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-secure-kafka-'))
  // Its controller listens 10000 above.
  const flags = ['--port', String(await freePort(20_000, 9_000, [10_000])), '--data-dir', join(dir, 'kafka')]
  const stop = async (): Promise<void> => {
    await cellstream(['kafka', 'stop', ...flags])
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const started = await cellstream(['kafka', 'start', '--secure', ...flags])
    if (started.code !== 0) throw new Error(`kafka start --secure failed: ${started.stderr}`)
    const env = Object.fromEntries(
      started.stdout
        .split('\n')
        .filter(line => /^KAFKA_\w+=/.test(line))
        .map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
    )
    const security = resolveKafkaSecurity(kafkaSecuritySettingsFromEnv(env))
    return { brokers: parseBrokers(env.KAFKA_BROKERS ?? ''), env, security, password: security.sasl!.password, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
