// How the Kafka clients authenticate and encrypt: SASL (SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN)
// and TLS. Set once per process, like the log level: the CLI resolves it from its flags and
// the environment before a command runs; without that, the environment alone decides. Every
// client factory (clients.ts, admin.ts) reads it, so no client can connect without it.
import { readFileSync } from 'node:fs'
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import type { SASLOptions } from '@platformatic/kafka'
import { UsageError, errorMessage } from '../lib/errors.ts'
import { registerSecret } from '../lib/secrets.ts'

export const SASL_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'] as const
export type SaslMechanism = (typeof SASL_MECHANISMS)[number]

export interface KafkaSecurity {
  sasl?: { mechanism: SaslMechanism; username: string; password: string }
  /** PEM contents; an empty object is TLS trusting the system's certificate authorities. */
  tls?: { ca?: string; cert?: string; key?: string }
}

/** What an operator sets, by flag or variable; file names are read here. */
export interface KafkaSecuritySettings {
  mechanism?: string
  username?: string
  password?: string
  passwordFile?: string
  tls?: string | boolean
  caFile?: string
  certFile?: string
  keyFile?: string
}

export function kafkaSecuritySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaSecuritySettings {
  return {
    mechanism: env.KAFKA_SASL_MECHANISM,
    username: env.KAFKA_SASL_USERNAME,
    password: env.KAFKA_SASL_PASSWORD,
    passwordFile: env.KAFKA_SASL_PASSWORD_FILE,
    tls: env.KAFKA_TLS,
    caFile: env.KAFKA_TLS_CA_FILE,
    certFile: env.KAFKA_TLS_CERT_FILE,
    keyFile: env.KAFKA_TLS_KEY_FILE
  }
}

/** Checks the settings and reads their files; throws a UsageError naming what is wrong. */
export function resolveKafkaSecurity(settings: KafkaSecuritySettings): KafkaSecurity {
  const set = (value: string | undefined): value is string => value !== undefined && value !== ''
  const security: KafkaSecurity = {}
  const mechanism = set(settings.mechanism) ? settings.mechanism : 'SCRAM-SHA-512'
  if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new UsageError(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(', ')}, got '${mechanism}'`)
  }
  // Credentials turn SASL on; the mechanism alone does not, so that a deployment can name it
  // once for every environment and leave the credentials empty where no login is needed.
  if (set(settings.username) || set(settings.password) || set(settings.passwordFile)) {
    if (set(settings.password) && set(settings.passwordFile)) {
      throw new UsageError('give the Kafka password by KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both')
    }
    const password = set(settings.passwordFile)
      ? readSetting('KAFKA_SASL_PASSWORD_FILE', settings.passwordFile).replace(/\r?\n$/, '')
      : settings.password
    if (!set(settings.username) || !set(password)) {
      throw new UsageError(
        `SASL ${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)`
      )
    }
    registerSecret(password)
    security.sasl = { mechanism: mechanism as SaslMechanism, username: settings.username, password }
  }
  if (set(settings.certFile) !== set(settings.keyFile)) {
    throw new UsageError('a Kafka client certificate needs both KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE')
  }
  const files = set(settings.caFile) || set(settings.certFile)
  if (files || parseSwitch('KAFKA_TLS', settings.tls)) {
    security.tls = {
      ...(set(settings.caFile) ? { ca: readSetting('KAFKA_TLS_CA_FILE', settings.caFile) } : {}),
      ...(set(settings.certFile) ? { cert: readSetting('KAFKA_TLS_CERT_FILE', settings.certFile) } : {}),
      ...(set(settings.keyFile) ? { key: readSetting('KAFKA_TLS_KEY_FILE', settings.keyFile) } : {})
    }
    if (security.tls.key !== undefined) registerSecret(security.tls.key)
  }
  return security
}

let current: KafkaSecurity | undefined

/** Sets the security of every Kafka client created afterwards in this process. */
export function configureKafkaSecurity(security: KafkaSecurity): void {
  current = security
}

export function kafkaSecurity(): KafkaSecurity {
  current ??= resolveKafkaSecurity(kafkaSecuritySettingsFromEnv())
  return current
}

/** The connection options of a @platformatic/kafka client. */
export function clientSecurityOptions(security: KafkaSecurity = kafkaSecurity()): {
  sasl?: SASLOptions
  tls?: TlsOptions
} {
  return {
    ...(security.sasl === undefined ? {} : { sasl: { ...security.sasl } }),
    ...(security.tls === undefined ? {} : { tls: { ...security.tls } })
  }
}

/** How the clients connect, for messages: never the password. */
export function describeKafkaSecurity(security: KafkaSecurity = kafkaSecurity()): string {
  const sasl = security.sasl === undefined ? '' : `SASL ${security.sasl.mechanism} as '${security.sasl.username}'`
  const tls = security.tls === undefined ? '' : 'TLS'
  return [sasl, tls].filter(s => s !== '').join(' over ') || 'plaintext'
}

function readSetting(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`${name}: cannot read ${file}: ${errorMessage(error)}`)
  }
}

function parseSwitch(name: string, value: string | boolean | undefined): boolean {
  if (typeof value === 'boolean') return value
  if (value === undefined || value === '') return false
  if (/^(true|1|yes|on)$/i.test(value)) return true
  if (/^(false|0|no|off)$/i.test(value)) return false
  throw new UsageError(`${name} must be true or false, got '${value}'`)
}
