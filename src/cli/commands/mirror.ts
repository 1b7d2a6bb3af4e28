import { Command } from 'commander'
import { UsageError } from '../../lib/errors.ts'
import { parseBrokers, parseDatabaseUrl, parseInteger } from '../../lib/options.ts'
import { DEFAULT_MIRROR_TOPIC, MetadataMirror } from '../../mirror/metadata-mirror.ts'
import { brokersOption, databaseUrlOption, progress } from '../shared-options.ts'
import { componentLog } from '../logger.ts'

interface MirrorFlags {
  brokers: string
  databaseUrl: string
  topic: string
  partitions: string
}

export function mirrorCommand (): Command {
  return new Command('mirror')
    .description('keep the compacted topic user-metadata in sync with the user_metadata table: a snapshot, then every change, until stopped')
    .addOption(brokersOption())
    .addOption(databaseUrlOption())
    .option('--topic <name>', 'compacted topic to publish to (created if missing)', DEFAULT_MIRROR_TOPIC)
    .option('--partitions <n>', 'partitions of the topic when it is created', '1')
    .action(async (flags: MirrorFlags) => { await runMirror(flags) })
}

async function runMirror (flags: MirrorFlags): Promise<void> {
  const brokers = parseBrokers(flags.brokers)
  parseDatabaseUrl(flags.databaseUrl)
  const partitions = parseInteger('--partitions', flags.partitions, { min: 1, max: 10_000 })
  if (!/^[\w.-]{1,249}$/.test(flags.topic)) throw new UsageError(`--topic must be 1 to 249 letters, digits, '.', '_' or '-', got '${flags.topic}'`)

  // Listen before starting: a signal during the snapshot stops the mirror right after it.
  let signalled = false
  let release = (): void => {}
  const stopped = new Promise<void>(resolve => { release = resolve })
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
    log: componentLog('mirror')
  })
  try {
    await mirror.start()
    await stopped
    await mirror.stop()
    progress(`stopped after publishing ${mirror.published} records`)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
