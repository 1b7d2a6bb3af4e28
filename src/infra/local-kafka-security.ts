// The secured variant of the local cluster (`kafka start --secure`): a SASL_SSL listener with
// SCRAM users, and a certificate authority of its own, made with openssl in the cluster's
// folder. It exists to test clients against what production clusters require; its secrets
// are files readable by their owner only, and clients are pointed at those files.
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { UnavailableError } from '../lib/errors.ts'
import { run } from '../lib/processes.ts'
import type { KafkaSecurity } from '../kafka/security.ts'

/** The user the brokers talk to each other as, and the one offered to clients. */
const BROKER_USER = 'admin'
export const CLIENT_USER = 'cellstream'
const MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256']

export interface SecurityFiles {
  dir: string
  caFile: string
  keystoreFile: string
  clientPasswordFile: string
  brokerPasswordFile: string
  keystorePasswordFile: string
}

export function securityFiles(dataDir: string): SecurityFiles {
  const dir = join(dataDir, 'security')
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    keystoreFile: join(dir, 'broker.p12'),
    clientPasswordFile: join(dir, `${CLIENT_USER}.password`),
    brokerPasswordFile: join(dir, `${BROKER_USER}.password`),
    keystorePasswordFile: join(dir, 'keystore.password')
  }
}

/** Makes the CA, the brokers' certificate (for 127.0.0.1 and localhost) and the passwords. */
export async function makeSecurityFiles(dataDir: string): Promise<SecurityFiles> {
  const files = securityFiles(dataDir)
  await mkdir(files.dir, { recursive: true, mode: 0o700 })
  for (const file of [files.clientPasswordFile, files.brokerPasswordFile, files.keystorePasswordFile]) {
    await writeFile(file, randomBytes(18).toString('base64url') + '\n', { mode: 0o600 })
  }
  const at = (name: string): string => join(files.dir, name)
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650'],
    ['-keyout', at('ca.key'), '-out', files.caFile, '-subj', '/CN=cellstream local Kafka CA']
  )
  await openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes'],
    ['-keyout', at('broker.key'), '-out', at('broker.csr'), '-subj', '/CN=localhost']
  )
  await writeFile(at('broker.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  await openssl(
    ['x509', '-req', '-days', '3650', '-CAcreateserial'],
    ['-in', at('broker.csr'), '-CA', files.caFile, '-CAkey', at('ca.key'), '-out', at('broker.pem')],
    ['-extfile', at('broker.ext')]
  )
  await openssl(
    ['pkcs12', '-export', '-name', 'broker'],
    ['-in', at('broker.pem'), '-inkey', at('broker.key'), '-out', files.keystoreFile],
    ['-passout', `file:${files.keystorePasswordFile}`]
  )
  // Only the keystore and the CA's certificate are needed from here on.
  for (const name of ['ca.key', 'ca.srl', 'broker.key', 'broker.csr', 'broker.ext', 'broker.pem']) {
    await rm(at(name), { force: true })
  }
  await chmod(files.keystoreFile, 0o600)
  return files
}

/** `kafka-storage format` arguments that create the SCRAM users with both mechanisms. */
export async function scramFormatArgs(files: SecurityFiles): Promise<string[]> {
  const users: Array<[string, string]> = [
    [BROKER_USER, (await readFile(files.brokerPasswordFile, 'utf8')).trim()],
    [CLIENT_USER, (await readFile(files.clientPasswordFile, 'utf8')).trim()]
  ]
  return users.flatMap(([name, password]) =>
    MECHANISMS.flatMap(mechanism => ['--add-scram', `${mechanism}=[name=${name},password=${password}]`])
  )
}

/** The listener part of a node's server.properties: SASL_SSL for clients and brokers. */
export async function secureListenerProperties(
  files: SecurityFiles,
  brokerPort: number,
  controllerPort: number
): Promise<string[]> {
  const brokerPassword = (await readFile(files.brokerPasswordFile, 'utf8')).trim()
  const keystorePassword = (await readFile(files.keystorePasswordFile, 'utf8')).trim()
  const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${BROKER_USER}" password="${brokerPassword}";`
  return [
    `listeners=SASL_SSL://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=SASL_SSL://127.0.0.1:${brokerPort}`,
    'controller.listener.names=CONTROLLER',
    // The controllers listen on loopback only, as in the plaintext cluster.
    'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=SASL_SSL',
    `sasl.enabled.mechanisms=${MECHANISMS.join(',')}`,
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    ...MECHANISMS.map(m => `listener.name.sasl_ssl.${m.toLowerCase()}.sasl.jaas.config=${jaas}`),
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${files.keystoreFile}`,
    `ssl.keystore.password=${keystorePassword}`,
    `ssl.key.password=${keystorePassword}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${files.caFile}`,
    'ssl.endpoint.identification.algorithm=https'
  ]
}

/** How a client of this cluster connects: SCRAM-SHA-512 as the client user, over TLS. */
export async function clientSecurity(files: SecurityFiles): Promise<KafkaSecurity> {
  return {
    sasl: {
      mechanism: 'SCRAM-SHA-512',
      username: CLIENT_USER,
      password: (await readFile(files.clientPasswordFile, 'utf8')).trim()
    },
    tls: { ca: await readFile(files.caFile, 'utf8') }
  }
}

/** The same, as the environment of a `cellstream` command (the password stays in its file). */
export function clientEnvironment(files: SecurityFiles, brokers: string[]): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: CLIENT_USER,
    KAFKA_SASL_PASSWORD_FILE: files.clientPasswordFile,
    KAFKA_TLS_CA_FILE: files.caFile
  }
}

async function openssl(...args: string[][]): Promise<void> {
  const result = await run('openssl', args.flat(), 'openssl')
  if (result.code !== 0) {
    const line = (result.stderr + result.stdout).trim().split('\n').at(-1) ?? ''
    throw new UnavailableError(`openssl ${args[0]!.join(' ')} failed: ${line}`)
  }
}
