import { Command } from 'commander'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { UsageError } from '../../lib/errors.ts'
import { parseBrokers, parseDatabaseUrl, parseInteger } from '../../lib/options.ts'
import { DEFAULT_MIRROR_TOPIC, MetadataMirror } from '../../mirror/metadata-mirror.ts'
import { watchMirror } from '../../web/metrics.ts'
import { startHttpServer } from '../../web/server.ts'
import { brokersOption, databaseUrlOption, httpHostOption, httpPortOption, progress } from '../shared-options.ts'

interface MirrorFlags {
  brokers: string
  databaseUrl: string
  topic: string
  partitions: string
  httpPort?: string
  httpHost: string
}

export function mirrorCommand(): Command {
  return new Command('mirror')
    .description(
      'keep the compacted topic user-metadata in sync with the user_metadata table: a snapshot, then every change, until stopped'
    )
    .addOption(brokersOption())
    .addOption(databaseUrlOption())
    .option('--topic <name>', 'compacted topic to publish to (created if missing)', DEFAULT_MIRROR_TOPIC)
    .option('--partitions <n>', 'partitions of the topic when it is created', '1')
    .addOption(
      httpPortOption(
        'serve /metrics, /health and /ready on this port (0 picks a free one, printed); none by default',
        null
      )
    )
    .addOption(httpHostOption())
    .action(async (flags: MirrorFlags) => {
      await runMirror(flags)
    })
}

async function runMirror(flags: MirrorFlags): Promise<void> {
  const brokers = parseBrokers(flags.brokers)
  parseDatabaseUrl(flags.databaseUrl)
  const partitions = parseInteger('--partitions', flags.partitions, { min: 1, max: 10_000 })
  const httpPort =
    flags.httpPort === undefined ? undefined : parseInteger('--http-port', flags.httpPort, { min: 0, max: 65_535 })
  if (!/^[\w.-]{1,249}$/.test(flags.topic))
    throw new UsageError(`--topic must be 1 to 249 letters, digits, '.', '_' or '-', got '${flags.topic}'`)

  // Listen before starting: a signal during the snapshot stops the mirror right after it.
  let signalled = false
  let release = (): void => {}
  const stopped = new Promise<void>(resolve => {
    release = resolve
  })
  const stop = (): void => {
    // A second Ctrl-C does not wait for the batch in progress.
    if (signalled) process.exit(130)
    signalled = true
    release()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  const mirror = new MetadataMirror({
    databaseUrl: flags.databaseUrl,
    brokers,
    topic: flags.topic,
    partitions,
    log: (_level, message) => {
      progress(message)
    }
  })
  let http: Awaited<ReturnType<typeof startHttpServer>> | undefined
  try {
    if (httpPort !== undefined) {
      const registry = new Registry()
      collectDefaultMetrics({ register: registry, prefix: 'cellstream_process_' })
      watchMirror(registry, mirror)
      // Live while it runs; ready while it publishes or stands by for another mirror.
      http = await startHttpServer({ host: flags.httpHost, port: httpPort }, registry, {
        status: () => ({
          live: mirror.state !== 'stopped',
          ready: mirror.state === 'active' || mirror.state === 'standby',
          state: mirror.state,
          published: mirror.published,
          skipped: mirror.skipped
        })
      })
      progress(
        `metrics and health on http://${flags.httpHost === '0.0.0.0' ? '127.0.0.1' : flags.httpHost}:${http.port}/metrics, /health and /ready`
      )
    }
    await mirror.start()
    // Until a signal, or until the mirror has to stop on its own (a conflicting topic).
    await Promise.race([stopped, mirror.done])
    await mirror.stop()
    await mirror.done
    progress(
      `stopped after publishing ${mirror.published} records${mirror.skipped > 0 ? ` (${mirror.skipped} rows too large, skipped)` : ''}`
    )
  } finally {
    http?.server.close()
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
