// compose.yaml, checked without a compose engine: it parses, every command, flag and variable
// it gives the image exists in the CLI, and its services are the ones the image test starts.
import test from 'ava'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import {
  PENDING,
  PENDING_ROLES,
  ROLES,
  cliEnvironment,
  dockerfile,
  invocationProblems,
  roleOf
} from './image-contract.ts'

interface Service {
  image?: string
  build?: string
  command?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  stop_grace_period?: string
}

interface Compose {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}

const compose = parse(await readFile(new URL('../../compose.yaml', import.meta.url), 'utf8'), {
  merge: true
}) as Compose
const cellstream = Object.entries(compose.services).filter(([, s]) => s.build === '.')
const imageEnv = (await dockerfile()).env

test('compose.yaml runs Kafka, PostgreSQL and, from the image built here, the roles the image test starts', t => {
  t.deepEqual(
    Object.keys(compose.services)
      .filter(name => compose.services[name]!.build !== '.')
      .sort(),
    ['kafka', 'postgres']
  )
  t.true(cellstream.every(([, s]) => s.image === 'cellstream:latest'))
  const roles = [...new Set(cellstream.map(([name]) => roleOf(name)))].sort()
  t.deepEqual(roles, [...Object.keys(ROLES), ...PENDING_ROLES].sort())
  for (const [name, service] of cellstream) {
    const expected = ROLES[roleOf(name)] ?? [roleOf(name)]
    t.deepEqual(service.command?.slice(0, expected.length), [...expected], `${name} runs ${expected.join(' ')}`)
  }
})

test('every command and flag compose.yaml gives the image exists in the CLI', t => {
  const problems = cellstream.flatMap(([, s]) => invocationProblems(s.command ?? []))
  t.deepEqual(problems.sort(), Object.keys(PENDING).sort(), `pending: ${JSON.stringify(PENDING)}`)
})

test('every variable compose.yaml and the Dockerfile set for the CLI is one it reads', t => {
  const known = cliEnvironment()
  const used = new Set([
    ...cellstream.flatMap(([, s]) => Object.keys(s.environment ?? {})),
    ...Object.keys(imageEnv).filter(k => k !== 'NODE_ENV')
  ])
  t.deepEqual(
    [...used].filter(name => !known.has(name)),
    []
  )
  t.true(used.has('KAFKA_BROKERS') && used.has('DATABASE_URL'))
})

test('three stream replicas, each with its own state volume, share the archive volume with the compactor', t => {
  const streams = cellstream.filter(([name]) => roleOf(name) === 'stream')
  t.is(streams.length, 3)
  const mounts = (s: Service): Map<string, string> =>
    new Map((s.volumes ?? []).map(v => v.split(':') as [string, string]).map(([volume, path]) => [path, volume]))
  const stateVolumes = streams.map(([, s]) => mounts(s).get(imageEnv.CELLSTREAM_STATE_DIR!))
  t.is(new Set(stateVolumes).size, 3)
  t.true(
    stateVolumes.every(v => v !== undefined && v in compose.volumes),
    'named volumes'
  )
  const archives = [...streams, ...cellstream.filter(([name]) => name === 'compactor')].map(([, s]) =>
    mounts(s).get(imageEnv.CELLSTREAM_ARCHIVE_DIR!)
  )
  t.deepEqual(new Set(archives), new Set(['archive']))
  t.true('archive' in compose.volumes)
  // SIGTERM gives a stream time to commit and leave its group.
  t.true(streams.every(([, s]) => s.stop_grace_period === '60s'))
})

test('the archive can move to object storage from the environment: ARCHIVE_URL and the AWS_ settings pass through, empty by default', t => {
  for (const [name, service] of cellstream) {
    for (const variable of [
      'ARCHIVE_URL',
      'AWS_ENDPOINT_URL',
      'AWS_REGION',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY'
    ])
      t.is(service.environment?.[variable], `\${${variable}:-}`, `${name}: ${variable}`)
  }
})

test('services start in order: migrations first, once PostgreSQL is healthy', t => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const dependency of Object.keys(service.depends_on ?? {}))
      t.true(dependency in compose.services, `${name} depends on ${dependency}`)
  }
  t.deepEqual(compose.services.migrate!.depends_on, { postgres: { condition: 'service_healthy' } })
  for (const [name, service] of cellstream.filter(([name]) => name !== 'migrate')) {
    t.deepEqual(service.depends_on?.migrate, { condition: 'service_completed_successfully' }, name)
  }
})
