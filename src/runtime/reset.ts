// Resets a stream application so that its next run recomputes everything from the start of
// its input: the consumer group's offsets go (so processing starts at the earliest offset),
// its internal topics go (partials, changelogs, stream times) and so does the local state of
// this machine (every instance's state folder given). Sinks that upsert then rewrite the same
// rows. Refuses while instances run: their state would survive the reset. Resetting again
// (another machine's state folders, say) finds nothing left on the broker and goes on.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CellstreamError, UsageError } from '../lib/errors.ts'
import type { KafkaAdmin } from '../kafka/admin.ts'
import { isInternalTopic } from './internal-topics.ts'

export interface ResetResult {
  topicsDeleted: string[]
  groupDeleted: boolean
}

export async function resetApplication(
  admin: KafkaAdmin,
  applicationId: string,
  stateDirs: string[]
): Promise<ResetResult> {
  const groups = await admin.describeGroups({ groups: [applicationId] })
  const group = groups.get(applicationId)
  if (group !== undefined && group.members.size > 0) {
    throw new UsageError(
      `group ${applicationId} has ${group.members.size} running instance(s); stop them before resetting`
    )
  }
  const topicsDeleted = (await admin.listTopics()).filter(topic => isInternalTopic(applicationId, topic)).sort()
  if (topicsDeleted.length > 0) await admin.deleteTopics({ topics: topicsDeleted })
  let groupDeleted = false
  // A group without members or offsets is reported dead (the client spells states as the broker does).
  if (group !== undefined && group.state.toUpperCase() !== 'DEAD') {
    try {
      await admin.deleteGroups({ groups: [applicationId] })
      groupDeleted = true
    } catch (error) {
      throw new CellstreamError('CS_RESET', `cannot delete group ${applicationId}: ${(error as Error).message}`, {
        cause: error
      })
    }
  }
  for (const stateDir of stateDirs) await rm(join(stateDir, applicationId), { recursive: true, force: true })
  return { topicsDeleted, groupDeleted }
}
