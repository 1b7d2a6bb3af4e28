// deploy/k8s, checked without a cluster: each overlay renders with kustomize (kubectl's), every
// object is valid against the Kubernetes (and KEDA) schemas, every command, flag and variable
// given to the image exists in the CLI, and the roles are the ones the image test starts.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import {
  ConfigMap,
  PersistentVolumeClaim,
  Secret,
  Service,
  type IContainer,
  type IPodTemplateSpec
} from 'kubernetes-models/v1'
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1'
import { Job } from 'kubernetes-models/batch/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1'
import { buildProgram } from '../../src/cli/main.ts'
import { PENDING, PENDING_ROLES, ROLES, cliEnvironment, dockerfile, invocationProblems } from './image-contract.ts'

interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; labels?: Record<string, string> }
  [field: string]: unknown
}

const MODELS: Record<string, new (data: never) => { validate: () => void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject
}

function kustomize(overlay: string): Promise<K8sObject[]> {
  return render(fileURLToPath(new URL(`../../deploy/k8s/overlays/${overlay}`, import.meta.url)), overlay)
}

/**
 * An overlay with components/archive-volume added, as its header says to: a kustomization in a
 * temp folder (kustomize takes only relative paths to other kustomizations).
 */
async function kustomizeWithVolume(overlay: string): Promise<K8sObject[]> {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-k8s-'))
  try {
    const deploy = relative(dir, fileURLToPath(new URL('../../deploy/k8s', import.meta.url)))
    await writeFile(
      join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'namespace: cellstream',
        `resources: [${deploy}/overlays/${overlay}]`,
        `components: [${deploy}/components/archive-volume]`,
        ''
      ].join('\n')
    )
    return await render(dir, `${overlay} with components/archive-volume`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function render(dir: string, overlay: string): Promise<K8sObject[]> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', ['kustomize', dir], { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error !== null) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT'
        reject(
          new Error(
            missing
              ? 'kubectl is needed: its built-in kustomize renders deploy/k8s'
              : `kubectl kustomize ${overlay}: ${stderr.trim()}`
          )
        )
      } else {
        resolve(parseAllDocuments(stdout).map(doc => doc.toJS() as K8sObject))
      }
    })
  })
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'Job'])
const podTemplate = (o: K8sObject): IPodTemplateSpec => (o.spec as { template: IPodTemplateSpec }).template
const cellstreamContainers = (o: K8sObject): IContainer[] =>
  (podTemplate(o).spec?.containers ?? []).filter(c => /^cellstream(:|$)/.test(c.image ?? ''))
const streamInputTopic = buildProgram()
  .commands.find(c => c.name() === 'stream')!
  .options.find(o => o.long === '--input-topic')!.defaultValue as string

for (const overlay of ['small', 'large']) {
  const rendered = kustomize(overlay)
  const byKind = async (kind: string): Promise<K8sObject[]> => (await rendered).filter(o => o.kind === kind)
  const named = async (kind: string, name: string): Promise<K8sObject> => {
    const found = (await byKind(kind)).find(o => o.metadata.name === name)
    if (found === undefined) throw new Error(`${overlay}: no ${kind} ${name}`)
    return found
  }
  /** The environment a container gets: its own variables and those of the ConfigMaps and Secrets it reads. */
  const environment = async (container: IContainer): Promise<Record<string, string>> => {
    const env: Record<string, string> = {}
    for (const source of container.envFrom ?? []) {
      const ref = source.configMapRef ?? source.secretRef
      const object = await named(source.configMapRef !== undefined ? 'ConfigMap' : 'Secret', ref!.name!)
      Object.assign(env, (object.data ?? object.stringData) as Record<string, string>)
    }
    for (const variable of container.env ?? []) env[variable.name] = variable.value ?? ''
    return env
  }

  test(`${overlay}: every object is valid against its schema`, async t => {
    const objects = await rendered
    t.true(objects.length > 0)
    for (const object of objects) {
      const model = MODELS[`${object.apiVersion}/${object.kind}`]
      if (model === undefined) {
        t.fail(`${object.apiVersion} ${object.kind} ${object.metadata.name}: no schema to check it against`)
        continue
      }
      t.notThrows(() => new model(object as never).validate(), `${object.kind} ${object.metadata.name}`)
    }
  })

  test(`${overlay}: the workloads are the roles the image test starts, running commands, flags and variables the CLI has`, async t => {
    const workloads = (await rendered).filter(o => workloadKinds.has(o.kind))
    t.deepEqual(workloads.map(o => o.metadata.name).sort(), [...Object.keys(ROLES), ...PENDING_ROLES].sort())
    const known = cliEnvironment()
    const [uid, gid] = (await dockerfile()).user.split(':').map(Number)
    const problems: string[] = []
    for (const workload of workloads) {
      const [container, ...others] = cellstreamContainers(workload)
      t.truthy(container, `${workload.metadata.name} runs the cellstream image`)
      t.is(others.length, 0)
      const expected = ROLES[workload.metadata.name] ?? [workload.metadata.name]
      t.deepEqual(
        container!.args?.slice(0, expected.length),
        [...expected],
        `${workload.metadata.name} runs ${expected.join(' ')}`
      )
      t.is(container!.command, undefined, "the image's entrypoint (tini) stays")
      problems.push(...invocationProblems(container!.args ?? []))
      const env = await environment(container!)
      // A variable only there to be expanded into another one, as $(NAME), is Kubernetes' business.
      const expanded = new Set(Object.values(env).flatMap(value => [...value.matchAll(/\$\((\w+)\)/g)].map(m => m[1]!)))
      t.deepEqual(
        Object.keys(env).filter(name => !known.has(name) && !expanded.has(name)),
        [],
        `${workload.metadata.name}: variables the CLI reads`
      )
      t.truthy(env.KAFKA_BROKERS)
      t.truthy(env.DATABASE_URL)
      const pod = podTemplate(workload).spec!
      t.like(
        pod.securityContext,
        { runAsNonRoot: true, runAsUser: uid, runAsGroup: gid },
        `${workload.metadata.name} runs as the image's user`
      )
    }
    t.deepEqual(problems.sort(), Object.keys(PENDING).sort(), `pending: ${JSON.stringify(PENDING)}`)
  })

  test(`${overlay}: the stream StatefulSet has a state volume per pod, probes on /ready and /health, and time to commit`, async t => {
    const stream = await named('StatefulSet', 'stream')
    const spec = stream.spec as {
      podManagementPolicy: string
      volumeClaimTemplates: Array<{ metadata: { name: string }; spec: { accessModes: string[] } }>
    }
    const [container] = cellstreamContainers(stream)
    const env = await environment(container!)
    const pod = podTemplate(stream).spec!
    t.is(spec.podManagementPolicy, 'Parallel')
    t.deepEqual(
      spec.volumeClaimTemplates.map(v => [v.metadata.name, v.spec.accessModes]),
      [['state', ['ReadWriteOnce']]]
    )
    const mounts = new Map(container!.volumeMounts!.map(m => [m.mountPath, m.name]))
    t.is(mounts.get(env.CELLSTREAM_STATE_DIR!), 'state')
    t.deepEqual([...mounts.values()], ['state'], 'the archive is in object storage, not on a volume')

    t.is(env.CELLSTREAM_HTTP_HOST, '0.0.0.0', "probes reach the pod's address")
    const service = await named('Service', (stream.spec as { serviceName: string }).serviceName)
    t.is((service.spec as { clusterIP: string }).clusterIP, 'None', 'a headless Service names each pod')
    t.is(
      env.CELLSTREAM_ADVERTISED_URL,
      `http://$(POD_NAME).${service.metadata.name}:$(CELLSTREAM_HTTP_PORT)`,
      'instances reach each other by pod name'
    )
    t.deepEqual(container!.env!.find(v => v.name === 'POD_NAME')?.valueFrom, {
      fieldRef: { fieldPath: 'metadata.name' }
    })
    const port = container!.ports!.find(p => p.name === 'http')
    t.is(String(port?.containerPort), env.CELLSTREAM_HTTP_PORT ?? 'unset')
    t.like(container!.readinessProbe?.httpGet, { path: '/ready', port: 'http' })
    t.like(container!.livenessProbe?.httpGet, { path: '/health', port: 'http' })
    t.true((pod.terminationGracePeriodSeconds ?? 30) >= 30, 'longer than a commit and a sink flush')
    t.deepEqual(
      pod.topologySpreadConstraints?.map(c => c.topologyKey),
      ['kubernetes.io/hostname']
    )

    const budget = await named('PodDisruptionBudget', 'stream')
    t.deepEqual((budget.spec as { selector: unknown }).selector, { matchLabels: podTemplate(stream).metadata!.labels })
  })

  test(`${overlay}: the archive is in object storage, the same bucket for the stream pods, the compactor and the dashboard; single-replica roles are recreated, never doubled`, async t => {
    t.deepEqual(await byKind('PersistentVolumeClaim'), [], 'no shared volume')
    for (const [kind, name] of [
      ['StatefulSet', 'stream'],
      ['Deployment', 'compactor'],
      ['Deployment', 'web']
    ] as const) {
      const env = await environment(cellstreamContainers(await named(kind, name))[0]!)
      t.regex(env.ARCHIVE_URL ?? '', /^s3:\/\/[a-z0-9.-]+\//, name)
      t.truthy(env.AWS_REGION, name)
      t.truthy(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY, `${name}: credentials from the Secret`)
    }
    const compactor = await named('Deployment', 'compactor')
    const [container] = cellstreamContainers(compactor)
    t.true(
      container!.volumeMounts!.some(m => m.name === 'tmp' && m.mountPath === '/tmp'),
      'a writable folder for the downloads'
    )
    const secret = await named('Secret', 'cellstream')
    t.truthy((secret.stringData as Record<string, string>).AWS_SECRET_ACCESS_KEY)
    const [mirror] = cellstreamContainers(await named('Deployment', 'mirror'))
    t.like(mirror!.readinessProbe?.httpGet, { path: '/ready', port: 'http' })
    t.like(mirror!.livenessProbe?.httpGet, { path: '/health', port: 'http' })
    for (const name of ['mirror', 'compactor']) {
      const spec = (await named('Deployment', name)).spec as { replicas: number; strategy: { type: string } }
      t.is(spec.replicas, 1, name)
      t.is(spec.strategy.type, 'Recreate', name)
    }
    t.is(
      (await byKind('Job'))
        .map(j => j.metadata.name)
        .sort()
        .join(),
      'migrate,simulator'
    )
  })

  test(`${overlay}: one autoscaler scales the stream StatefulSet`, async t => {
    const scalers = [...(await byKind('HorizontalPodAutoscaler')), ...(await byKind('ScaledObject'))]
    t.is(scalers.length, 1)
    const [scaler] = scalers
    t.like(scaler!.spec, { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'stream' } })
    if (scaler!.kind === 'ScaledObject') {
      const env = await environment(cellstreamContainers(await named('StatefulSet', 'stream'))[0]!)
      const [trigger, ...others] = (
        scaler!.spec as { triggers: Array<{ type: string; metadata: Record<string, string> }> }
      ).triggers
      t.is(others.length, 0)
      t.is(trigger!.type, 'kafka', 'scales on consumer lag')
      t.is(trigger!.metadata.topic, streamInputTopic)
      t.truthy(env[trigger!.metadata.bootstrapServersFromEnv!], "brokers from the pods' environment")
      t.truthy(env[trigger!.metadata.consumerGroupFromEnv!], "group from the pods' environment")
    }
  })
}

for (const overlay of ['small', 'large']) {
  test(`${overlay} with components/archive-volume: the archive on a ReadWriteMany volume shared by the stream pods and the compactor`, async t => {
    const objects = await kustomizeWithVolume(overlay)
    const [claim, ...others] = objects.filter(o => o.kind === 'PersistentVolumeClaim')
    t.is(others.length, 0)
    t.is(claim!.metadata.name, 'archive')
    t.deepEqual((claim!.spec as { accessModes: string[] }).accessModes, ['ReadWriteMany'])
    const config = objects.find(o => o.kind === 'ConfigMap' && o.metadata.name.startsWith('cellstream'))!
    const archiveUrl = (config.data as Record<string, string>).ARCHIVE_URL!
    t.true(archiveUrl.startsWith('/'), 'a folder')
    for (const name of ['stream', 'compactor']) {
      const workload = objects.find(o => workloadKinds.has(o.kind) && o.metadata.name === name)!
      const [container] = cellstreamContainers(workload)
      t.true(
        container!.volumeMounts!.some(m => m.name === 'archive' && m.mountPath === archiveUrl),
        `${name} mounts the archive`
      )
      t.is(
        podTemplate(workload).spec!.volumes!.find(v => v.name === 'archive')?.persistentVolumeClaim?.claimName,
        'archive'
      )
    }
    for (const object of objects) {
      const model = MODELS[`${object.apiVersion}/${object.kind}`]
      t.notThrows(() => new model!(object as never).validate(), `${object.kind} ${object.metadata.name}`)
    }
  })
}

test('the small overlay scales with a plain HPA, the large one on lag with KEDA and to more pods', async t => {
  const [small, large] = await Promise.all([kustomize('small'), kustomize('large')])
  const max = (objects: K8sObject[]): number => {
    const scaler = objects.find(o => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')!
    const spec = scaler.spec as { maxReplicas?: number; maxReplicaCount?: number }
    return spec.maxReplicas ?? spec.maxReplicaCount!
  }
  t.true(small.some(o => o.kind === 'HorizontalPodAutoscaler'))
  t.true(large.some(o => o.kind === 'ScaledObject'))
  t.true(max(large) > max(small))
})
