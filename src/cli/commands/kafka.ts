import { Command, Option } from 'commander'
import { LocalKafka } from '../../infra/local-kafka.ts'
import { pingKafka } from '../../kafka/admin.ts'
import { parseBrokers } from '../../lib/options.ts'
import { brokersOption, kafkaDataDirOption, progress } from '../shared-options.ts'

export function kafkaCommand (): Command {
  const kafka = new Command('kafka').description('run a local Apache Kafka cluster (KRaft) from Maven Central')

  kafka.command('start')
    .description('start a local cluster on 127.0.0.1:9092 (or 9092-9094); a no-op when it runs already')
    .addOption(new Option('--nodes <n>', 'number of nodes').choices(['1', '3']).default('1'))
    .addOption(kafkaDataDirOption())
    .action(async (opts: { nodes: '1' | '3', dataDir: string }) => {
      const local = new LocalKafka({ dataDir: opts.dataDir, log: progress })
      const { started, brokers } = await local.start(Number(opts.nodes) as 1 | 3)
      console.log(`${started ? 'started' : 'already running'}: Kafka at ${brokers.join(',')}`)
    })

  kafka.command('stop')
    .description('stop the local cluster (its data is kept)')
    .addOption(kafkaDataDirOption())
    .option('--wipe', 'also delete its data (topics, offsets)')
    .action(async (opts: { dataDir: string, wipe?: boolean }) => {
      const local = new LocalKafka({ dataDir: opts.dataDir })
      const stopped = await local.stop()
      if (opts.wipe === true) await local.wipe()
      console.log(stopped > 0 ? `stopped ${stopped} node(s)` : 'not running')
    })

  kafka.command('status')
    .description('show the local nodes and whether the brokers answer; exits 1 when none does')
    .addOption(kafkaDataDirOption())
    .addOption(brokersOption())
    .action(async (opts: { dataDir: string, brokers: string }) => {
      const nodes = await new LocalKafka({ dataDir: opts.dataDir }).status()
      for (const node of nodes) {
        console.log(`node ${node.id}: ${node.alive ? `running (pid ${node.pid})` : 'stopped'} on 127.0.0.1:${node.port}`)
      }
      const brokers = parseBrokers(opts.brokers)
      const count = await pingKafka(brokers).catch(() => 0)
      console.log(count > 0 ? `Kafka answers at ${brokers.join(',')} (${count} broker(s))` : `Kafka does not answer at ${brokers.join(',')}`)
      if (count === 0) process.exitCode = 1
    })

  return kafka
}
