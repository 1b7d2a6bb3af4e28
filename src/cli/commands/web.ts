// `cellstream web`: the live dashboard (src/web/) of a running pipeline.
import { Command, Option } from 'commander'
import type { ArchiveLocation } from '../../archive/archive-url.ts'
import { S3Archive } from '../../archive/s3-archive.ts'
import { closeDb, describeDbError, openDb } from '../../db/pool.ts'
import { createAdmin, pingKafka } from '../../kafka/admin.ts'
import { createConsumer } from '../../kafka/clients.ts'
import { Fetcher } from '../../kafka/fetcher.ts'
import { UsageError } from '../../lib/errors.ts'
import { parseBrokers, parseInteger } from '../../lib/options.ts'
import { simulatedAntenna } from '../../simulator/population.ts'
import { Collector } from '../../web/collector.ts'
import { InstanceOpenWindows } from '../../web/open-windows.ts'
import { announcedUrls } from '../../web/instances-source.ts'
import { TOTALS_AGGREGATIONS } from '../../traffic/topology.ts'
import { componentLog } from '../logger.ts'
import {
  archiveDirOption,
  archiveLocation,
  archiveUrlOption,
  brokersOption,
  databaseUrlOption,
  groupOption,
  httpHostOption,
  httpPortOption,
  progress
} from '../shared-options.ts'

interface WebFlags {
  httpPort: string
  httpHost: string
  group: string
  inputTopic: string
  instances?: string
  archiveDir: string
  archiveUrl?: string
  refresh: string
  brokers: string
  databaseUrl: string
}

export function webCommand(): Command {
  return new Command('web')
    .description(
      'serve the live dashboard of a running pipeline: totals per app and antenna, antennas on a map, users against their quota, alerts, and the health of every stage'
    )
    .addOption(httpPortOption('port of the dashboard; 0 picks a free one (printed)', '8080'))
    .addOption(httpHostOption())
    .addOption(groupOption())
    .addOption(
      new Option(
        '--input-topic <name>',
        'topic of antenna events (its dead letters and late events are <name>-dlq and <name>-late)'
      ).default('devices')
    )
    .addOption(
      new Option(
        '--instances <url,...>',
        "base URLs of the stream instances' HTTP servers (/health, /metrics, open windows), e.g. http://127.0.0.1:9464 (default: the ones the group announces)"
      )
    )
    .addOption(archiveDirOption())
    .addOption(archiveUrlOption())
    .addOption(new Option('--refresh <seconds>', 'seconds between two refreshes of the data').default('2'))
    .addOption(brokersOption())
    .addOption(databaseUrlOption())
    .action(async (flags: WebFlags, command: Command) => {
      await runWeb(flags, archiveLocation(flags, command))
    })
}

async function runWeb(flags: WebFlags, location: ArchiveLocation): Promise<void> {
  const port = parseInteger('--http-port', flags.httpPort, { min: 0, max: 65_535 })
  const refreshMs = parseInteger('--refresh', flags.refresh, { min: 1, max: 3600 }) * 1000
  const given = flags.instances
    ?.split(',')
    .map(url => url.trim())
    .filter(url => url !== '')
    .map(parseInstanceUrl)
  const brokers = parseBrokers(flags.brokers)
  await pingKafka(brokers)
  const db = openDb(flags.databaseUrl)
  const s3 = location.kind === 's3' ? new S3Archive(location) : undefined
  const admin = createAdmin(brokers, 'cellstream-web')
  const consumer = createConsumer(brokers, 'cellstream-web', 'cellstream-web')
  try {
    await db.one('SELECT count(*) FROM quota_alerts').catch(error => {
      throw describeDbError(error, flags.databaseUrl)
    })
    const fetcher = new Fetcher(consumer)
    const instances = given === undefined ? async () => await announcedUrls(fetcher, flags.group) : async () => given
    const collector = new Collector({
      db,
      admin,
      fetcher,
      group: flags.group,
      inputTopic: flags.inputTopic,
      instances,
      archiveDir: location.kind === 'local' ? location.dir : s3!,
      // The dashboard shows open windows per app and per antenna, not per user.
      openWindows: new InstanceOpenWindows(instances, {
        app_total_bytes: TOTALS_AGGREGATIONS.app_total_bytes,
        antenna_total_bytes: TOTALS_AGGREGATIONS.antenna_total_bytes
      }),
      antennaAt: simulatedAntenna
    })
    // Loaded here, not at the top: the web server's modules would slow every other command's start.
    const { startDashboard } = await import('../../web/dashboard-server.ts')
    const dashboard = await startDashboard({
      collector,
      host: flags.httpHost,
      port,
      refreshMs,
      log: componentLog('web')
    })
    progress(`dashboard on ${dashboard.url} (group ${flags.group}, topic ${flags.inputTopic}); Ctrl-C stops`)
    await new Promise<void>(resolve => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    await dashboard.close()
  } finally {
    await consumer.close(true).catch(() => {})
    await admin.close().catch(() => {})
    await closeDb(db)
    s3?.close()
  }
}

function parseInstanceUrl(raw: string): string {
  const url = URL.canParse(raw) ? new URL(raw) : undefined
  if (url?.protocol === 'http:' || url?.protocol === 'https:') return url.toString()
  throw new UsageError(`--instances takes http:// URLs such as http://127.0.0.1:9464, got '${raw}'`)
}
