import { hostname } from 'node:os'
import { join } from 'node:path'
import { Command, Option } from 'commander'
import { StreamApp } from '../../runtime/stream-app.ts'
import { trafficTopology } from '../../traffic/topology.ts'
import { BytesTableSink } from '../../sinks/bytes-table.ts'
import { ArchiveSink } from '../../sinks/archive-sink.ts'
import { ParquetArchive } from '../../archive/parquet-archive.ts'
import { S3Archive } from '../../archive/s3-archive.ts'
import { S3Target } from '../../archive/targets.ts'
import { QuotaAlertsTableSink } from '../../sinks/quota-alerts-table.ts'
import { closeDb, describeDbError, openDb } from '../../db/pool.ts'
import { ensureTopics, pingKafka, withAdmin } from '../../kafka/admin.ts'
import { parseBrokers, parseInteger } from '../../lib/options.ts'
import { UnavailableError } from '../../lib/errors.ts'
import {
  archiveDirOption,
  archiveLocation,
  archiveUrlOption,
  brokersOption,
  databaseUrlOption,
  groupOption,
  httpHostOption,
  httpPortOption,
  progress,
  stateDirOption
} from '../shared-options.ts'
import { componentLog } from '../logger.ts'
import { StreamMetrics, watchMirror } from '../../web/metrics.ts'
import { MetadataMirror } from '../../mirror/metadata-mirror.ts'
import { startHttpServer } from '../../web/server.ts'

interface StreamFlags {
  inputTopic: string
  metadataTopic: string
  alertsTopic: string
  group: string
  grace: string
  idleTimeout: string
  commitInterval: string
  stateDir: string
  archiveDir: string
  archiveUrl?: string
  httpPort: string
  httpHost: string
  advertisedUrl?: string
  maxFuture: string
  giveUpAfter?: string
  mirror?: boolean
  brokers: string
  databaseUrl: string
}

export function streamCommand(): Command {
  return new Command('stream')
    .description(
      'run the stream processor: validate, join user metadata, archive to Parquet, 5-minute totals per antenna, user and app into Postgres `bytes`, live quota alerts; instances with the same --group share the work'
    )
    .addOption(new Option('--input-topic <name>', 'topic of antenna events').default('devices'))
    .addOption(
      new Option('--metadata-topic <name>', 'compacted topic of user metadata (see `cellstream mirror`)').default(
        'user-metadata'
      )
    )
    .addOption(
      new Option('--alerts-topic <name>', 'topic of live quota alerts (also written to Postgres quota_alerts)').default(
        'quota-alerts'
      )
    )
    .addOption(groupOption())
    .addOption(
      new Option('--grace <seconds>', 'how long a window waits for out-of-order events after its end').default('60')
    )
    .addOption(
      new Option(
        '--idle-timeout <seconds>',
        'wall-clock seconds a partition stays read to its end, with no new event, before it stops holding windows open'
      ).default('30')
    )
    .addOption(new Option('--commit-interval <ms>', 'milliseconds between two exactly-once commits').default('1000'))
    .addOption(stateDirOption())
    .addOption(archiveDirOption())
    .addOption(archiveUrlOption())
    .addOption(
      new Option(
        '--max-future <seconds>',
        "how far an event's timestamp may be ahead of its record's Kafka timestamp; later ones are dead letters"
      ).default('300')
    )
    .addOption(
      httpPortOption('port of /metrics, /health (liveness) and /ready (readiness); 0 picks a free one (printed)')
    )
    .addOption(httpHostOption())
    .addOption(
      new Option(
        '--advertised-url <url>',
        "the URL other instances reach this one's HTTP server at, for interactive queries (default: http://<http-host, or this host's name when it is 0.0.0.0>:<port>)"
      ).env('CELLSTREAM_ADVERTISED_URL')
    )
    .addOption(
      new Option(
        '--give-up-after <seconds>',
        'exit (code 3) once the broker or PostgreSQL has been failing this long (default: wait out any outage)'
      )
    )
    .option('--mirror', 'also run the user metadata mirror (`cellstream mirror`) in this process')
    .addOption(brokersOption())
    .addOption(databaseUrlOption())
    .action(async (flags: StreamFlags, command: Command) => {
      const location = archiveLocation(flags, command)
      const graceMs = parseInteger('--grace', flags.grace, { min: 0, max: 86_400 }) * 1000
      const idleTimeoutMs = parseInteger('--idle-timeout', flags.idleTimeout, { min: 1, max: 86_400 }) * 1000
      const commitIntervalMs = parseInteger('--commit-interval', flags.commitInterval, { min: 10, max: 600_000 })
      const httpPort = parseInteger('--http-port', flags.httpPort, { min: 0, max: 65_535 })
      const maxFutureSeconds = parseInteger('--max-future', flags.maxFuture, { min: 0, max: 10 * 365 * 86_400 })
      const giveUpAfterMs =
        flags.giveUpAfter === undefined
          ? undefined
          : parseInteger('--give-up-after', flags.giveUpAfter, { min: 1, max: 365 * 86_400 }) * 1000
      const brokers = parseBrokers(flags.brokers)
      await pingKafka(brokers)
      const db = openDb(flags.databaseUrl)
      try {
        await db.one('SELECT count(*) FROM bytes').catch(error => {
          throw describeDbError(error, flags.databaseUrl)
        })
        await withAdmin(brokers, async admin => {
          if (!(await admin.listTopics()).includes(flags.inputTopic)) {
            throw new UnavailableError(
              `input topic ${flags.inputTopic} does not exist; create it with 'cellstream simulate' or your producer`
            )
          }
          // The metadata mirror may start later; the table is empty until it does.
          await ensureTopics(admin, [
            { name: flags.metadataTopic, partitions: 1, config: { 'cleanup.policy': 'compact' } }
          ])
        })
        const metrics = new StreamMetrics()
        // One writer for the process: tasks flush their sinks one after another at a commit.
        // Files for object storage are written in the instance's own folder, then uploaded.
        const s3 = location.kind === 's3' ? new S3Archive(location) : undefined
        const archive = new ParquetArchive(
          location.kind === 'local' ? location.dir : new S3Target(s3!, join(flags.stateDir, '.archive-uploads'))
        )
        const app = new StreamApp({
          topology: trafficTopology({
            inputTopic: flags.inputTopic,
            metadataTopic: flags.metadataTopic,
            graceMs,
            maxFutureSeconds,
            totalsSink: type => new BytesTableSink(db, type),
            alertsTopic: flags.alertsTopic,
            alertsSink: what => new QuotaAlertsTableSink(db, what),
            archiveSink: () => new ArchiveSink(archive),
            onUnknownUser: () => metrics.unknownUser()
          }),
          applicationId: flags.group,
          brokers,
          stateDir: flags.stateDir,
          commitIntervalMs,
          idleTimeoutMs,
          metrics,
          giveUpAfterMs,
          log: componentLog('runtime')
        })
        metrics.watch(app)
        const http = await startHttpServer({ host: flags.httpHost, port: httpPort }, metrics.registry, app)
        app.advertise(
          flags.advertisedUrl ??
            `http://${flags.httpHost === '0.0.0.0' || flags.httpHost === '::' ? hostname() : urlHost(flags.httpHost)}:${http.port}`
        )
        const stop = (): void => {
          app.stop().catch(() => {})
        }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        const mirror =
          flags.mirror === true
            ? new MetadataMirror({
                databaseUrl: flags.databaseUrl,
                brokers,
                topic: flags.metadataTopic,
                log: componentLog('mirror')
              })
            : undefined
        if (mirror !== undefined) watchMirror(metrics.registry, mirror)
        try {
          await mirror?.start()
          await app.start()
          progress(
            `processing ${flags.inputTopic} as group ${flags.group}, state in ${flags.stateDir}; metrics and health on http://${urlHost(flags.httpHost)}:${http.port}/metrics, /health and /ready; Ctrl-C stops`
          )
          await app.done
        } finally {
          http.server.close()
          await mirror?.stop()
          await archive.close()
          s3?.close()
        }
        progress(`stopped after ${app.commits} commits`)
      } finally {
        await closeDb(db)
      }
    })
}

/** The host part of a URL to this server: an address that listens everywhere is reached on loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}
