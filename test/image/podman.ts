// Containers of the image test, run with podman as an operator would run them on one host.
import { execFile, spawn } from 'node:child_process'
import { createServer } from 'node:net'

export interface PodmanResult {
  code: number
  stdout: string
  stderr: string
}

export function podman(args: string[], timeoutMs = 300_000): Promise<PodmanResult> {
  return new Promise(resolve => {
    execFile('podman', args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, stdout, stderr: withoutTimerNoise(stderr) })
    })
  })
}

// Without systemd, podman cannot schedule HEALTHCHECK timers and says so on every start and
// removal; the test runs the health check itself (`podman healthcheck run`).
function withoutTimerNoise(stderr: string): string {
  return stderr
    .split('\n')
    .filter(line => !line.includes('unable to get systemd connection'))
    .join('\n')
}

export interface Container {
  name: string
  /** The image's command: a `cellstream` subcommand and its flags. */
  args: string[]
  env?: Record<string, string>
  /** `volume:/path` mounts. */
  volumes?: string[]
  /** Writable scratch folders (memory). */
  tmpfs?: string[]
}

/**
 * `podman run` arguments: host network (the broker and PostgreSQL are local), no health timer,
 * and a read-only root file system with nothing writable but the volumes and tmpfs given, as
 * the Kubernetes manifests run it (readOnlyRootFilesystem).
 */
export function runArgs(image: string, container: Container): string[] {
  return [
    '--name',
    container.name,
    '--network',
    'host',
    '--health-interval',
    'disable',
    '--read-only',
    '--read-only-tmpfs=false',
    ...Object.entries(container.env ?? {}).flatMap(([key, value]) => ['--env', `${key}=${value}`]),
    ...(container.volumes ?? []).flatMap(volume => ['--volume', volume]),
    ...(container.tmpfs ?? []).flatMap(path => ['--tmpfs', path]),
    image,
    ...container.args
  ]
}

/** Starts a container in the background; throws with podman's message if it cannot. */
export async function start(image: string, container: Container): Promise<void> {
  const result = await podman(['run', '--detach', ...runArgs(image, container)])
  if (result.code !== 0) throw new Error(`podman run ${container.name}: ${result.stderr.trim()}`)
}

/** Runs a container to its end and removes it. */
export function runOnce(image: string, container: Container): Promise<PodmanResult> {
  return podman(['run', '--rm', ...runArgs(image, container)])
}

/** Waits for a container to end and returns its exit code. */
export async function exitCode(name: string, timeoutMs = 300_000): Promise<number> {
  const result = await podman(['wait', name], timeoutMs)
  if (result.code !== 0) throw new Error(`podman wait ${name}: ${result.stderr.trim()}`)
  return Number(result.stdout.trim())
}

export async function isRunning(name: string): Promise<boolean> {
  const result = await podman(['inspect', '--format', '{{.State.Running}}', name])
  return result.stdout.trim() === 'true'
}

/** A container's output, stdout and stderr interleaved as written, then how it ended if it did. */
export async function logs(name: string): Promise<string> {
  const output = await new Promise<string>(resolve => {
    const child = spawn('podman', ['logs', name], { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout.on('data', chunk => {
      text += chunk
    })
    child.stderr.on('data', chunk => {
      text += chunk
    })
    child.on('close', () => resolve(text))
  })
  const state = await podman([
    'inspect',
    '--format',
    '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}} {{.State.Error}}',
    name
  ])
  const [status, code, oom, ...error] = state.stdout.trim().split(' ')
  return status === 'exited'
    ? `${output}[exited with ${code}${oom === 'true' ? ', out of memory' : ''}${error.length > 0 && error.join('') !== '' ? `: ${error.join(' ')}` : ''}]\n`
    : output
}

/** A TCP port that nothing listens on now: containers share the host's network. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}
