// Prints the broker's topics, one per line, sorted: `.ci/run` compares them before and after
// the suite, which must leave the broker as it found it.
import { withAdmin } from '../src/kafka/admin.ts'
import { parseBrokers } from '../src/lib/options.ts'
import { DEFAULT_KAFKA_BROKERS } from '../src/lib/config.ts'

const topics = await withAdmin(parseBrokers(process.env.KAFKA_BROKERS ?? DEFAULT_KAFKA_BROKERS), admin =>
  admin.listTopics()
)
process.stdout.write(
  topics
    .filter(topic => !topic.startsWith('__'))
    .sort()
    .map(topic => `${topic}\n`)
    .join('')
)
