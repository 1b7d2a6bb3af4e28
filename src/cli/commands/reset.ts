import { Command } from 'commander'
import { createAdmin, pingKafka } from '../../kafka/admin.ts'
import { resetApplication } from '../../runtime/reset.ts'
import { parseBrokers } from '../../lib/options.ts'
import { brokersOption, groupOption, stateDirsOption } from '../shared-options.ts'

export function resetCommand(): Command {
  return new Command('reset')
    .description(
      "make the next `cellstream stream` run recompute everything from the earliest input: deletes the group's offsets, its internal topics and this machine's local state (instances must be stopped)"
    )
    .addOption(groupOption())
    .addOption(stateDirsOption())
    .addOption(brokersOption())
    .action(async (flags: { group: string; stateDir: string[]; brokers: string }) => {
      const brokers = parseBrokers(flags.brokers)
      await pingKafka(brokers)
      const admin = createAdmin(brokers)
      try {
        const { topicsDeleted, groupDeleted } = await resetApplication(admin, flags.group, flags.stateDir)
        console.log(
          `reset ${flags.group}: ${groupDeleted ? 'offsets deleted' : 'no committed offsets'}, ${topicsDeleted.length} internal topics deleted, local state in ${flags.stateDir.join(', ')} removed`
        )
      } finally {
        await admin.close()
      }
    })
}
