import { Command, Option } from 'commander'
import { LocalKafka } from '../../infra/local-kafka.ts'
import { pingKafka } from '../../kafka/admin.ts'
import { parseBrokers, parseInteger } from '../../lib/options.ts'
import { brokersOption, kafkaDataDirOption, progress } from '../shared-options.ts'

const portOption = (): Option =>
  new Option(
    '--port <port>',
    'port of the first broker (node i listens on port + i - 1, its controller 10000 above)'
  ).default('9092')

function localKafka(
  opts: { dataDir: string; port: string; secure?: boolean },
  log?: (line: string) => void
): LocalKafka {
  return new LocalKafka({
    dataDir: opts.dataDir,
    basePort: parseInteger('--port', opts.port, { min: 1024, max: 55_000 }),
    secure: opts.secure === true,
    log
  })
}

export function kafkaCommand(): Command {
  const kafka = new Command('kafka').description('run a local Apache Kafka cluster (KRaft) from Maven Central')

  kafka
    .command('start')
    .description(
      'start a local cluster on 127.0.0.1:9092 (or 9092-9094) and wait until it answers; a no-op when it runs already'
    )
    .addOption(new Option('--nodes <n>', 'number of nodes').choices(['1', '3']).default('1'))
    .addOption(kafkaDataDirOption())
    .addOption(portOption())
    .option(
      '--secure',
      'SASL_SSL listeners (SCRAM-SHA-512 and -256 users, a CA of its own) instead of plaintext; prints the variables clients need'
    )
    .action(async (opts: { nodes: '1' | '3'; dataDir: string; port: string; secure?: boolean }) => {
      const local = localKafka(opts, progress)
      const { started, brokers } = await local.start(Number(opts.nodes) as 1 | 3)
      console.log(`${started ? 'started' : 'already running'}: Kafka at ${brokers.join(',')}`)
      if (opts.secure === true) {
        for (const [name, value] of Object.entries(await local.clientEnvironment())) console.log(`${name}=${value}`)
      }
    })

  kafka
    .command('stop')
    .description('stop the local cluster (its data is kept)')
    .addOption(kafkaDataDirOption())
    .addOption(portOption())
    .option('--wipe', 'also delete its data (topics, offsets)')
    .action(async (opts: { dataDir: string; port: string; wipe?: boolean }) => {
      const local = localKafka(opts)
      const stopped = await local.stop()
      if (opts.wipe === true) await local.wipe()
      console.log(stopped > 0 ? `stopped ${stopped} node(s)` : 'not running')
    })

  kafka
    .command('status')
    .description(
      'show the local nodes and whether the brokers answer (KAFKA_BROKERS when no local cluster exists); exits 1 when none does'
    )
    .addOption(kafkaDataDirOption())
    .addOption(portOption())
    .addOption(brokersOption())
    .action(async (opts: { dataDir: string; port: string; brokers: string }) => {
      const local = localKafka(opts)
      const nodes = await local.status()
      for (const node of nodes) {
        console.log(
          `node ${node.id}: ${node.alive ? `running (pid ${node.pid})` : 'stopped'} on 127.0.0.1:${node.port}`
        )
      }
      // A local cluster is checked at its own ports, as its clients connect; otherwise KAFKA_BROKERS is.
      const brokers = nodes.length > 0 ? nodes.map(n => `127.0.0.1:${n.port}`) : parseBrokers(opts.brokers)
      const count = await pingKafka(brokers, nodes.length > 0 ? await local.clientSecurity() : undefined).catch(() => 0)
      console.log(
        count > 0
          ? `Kafka answers at ${brokers.join(',')} (${count} broker(s))`
          : `Kafka does not answer at ${brokers.join(',')}`
      )
      if (count === 0) process.exitCode = 1
    })

  return kafka
}
