// An owner task as the runtime runs it: its two logged stores (windows, and the stream time
// seen from each source), recovered from their changelogs when the partition comes here, and
// the outputs its closed windows go to.
import { join } from 'node:path'
import { stringSerde } from '../lib/serdes.ts'
import { LoggedStore, TimeWindowStore, windowedSerde } from '../stores/index.ts'
import { OwnerTask, ownedWindowSerde, sourceTimeSerde } from './owner-task.ts'
import type { AggregationPlan } from './plan.ts'
import { WindowOutputs } from './window-outputs.ts'
import { changelogTopic } from './internal-topics.ts'
import type { TaskManagerOptions } from './task-manager.ts'

/** An owner task with its logged stores and where its windows go. */
export interface Owner {
  plan: AggregationPlan
  task: OwnerTask<unknown, unknown>
  stores: Array<LoggedStore<unknown, unknown>>
  outputs: WindowOutputs<unknown, unknown>
}

/** Opens the stores of an owner partition, restores them, and builds its task. */
export async function openOwner(plan: AggregationPlan, partition: number, options: TaskManagerOptions): Promise<Owner> {
  const {
    plan: { applicationId, topology },
    stateDir,
    stores: supplier,
    metrics,
    log,
    onProgress
  } = options
  const name = plan.aggregation.name
  const dir = join(stateDir, applicationId, `${name}-${partition}`)
  const windowsLocal = supplier.keyValue({
    name: `${name}-windows-${partition}`,
    dir: join(dir, 'windows'),
    keySerde: windowedSerde(plan.aggregation.key),
    valueSerde: ownedWindowSerde(plan.aggregation.value)
  })
  const sourcesLocal = supplier.keyValue({
    name: `${name}-sources-${partition}`,
    dir: join(dir, 'sources'),
    keySerde: stringSerde,
    valueSerde: sourceTimeSerde
  })
  const windows = new LoggedStore(windowsLocal, { topic: changelogTopic(applicationId, name, 'windows'), partition })
  const sources = new LoggedStore(sourcesLocal, { topic: changelogTopic(applicationId, name, 'sources'), partition })
  const recovered: Array<LoggedStore<unknown, unknown>> = []
  try {
    for (const store of [windows, sources] as Array<LoggedStore<unknown, unknown>>) {
      const result = await store.recover(options.changelog(store.changelog.topic, partition), { onProgress })
      recovered.push(store)
      metrics.restored(store.name, result.records)
      if (result.records > 0)
        log(
          'info',
          `restored ${result.records} records into ${store.name} ${result.fromCheckpoint ? 'after its checkpoint' : 'from its changelog'}`
        )
    }
  } catch (error) {
    // Let go of the files' locks. A store already restored keeps its checkpoint; the one
    // whose restore failed gets none, and the next attempt restores it again.
    for (const store of recovered) await store.close().catch(() => {})
    for (const store of [windows, sources]) await store.release().catch(() => {})
    throw error
  }
  const task = new OwnerTask({
    aggregation: plan.aggregation,
    partition,
    windows: new TimeWindowStore(windows),
    sourceTimes: sources,
    sources: plan.sources,
    metrics
  })
  return {
    plan,
    task,
    stores: [windows, sources] as Array<LoggedStore<unknown, unknown>>,
    outputs: new WindowOutputs(plan.aggregation, metrics, topology.deadLetterTopic)
  }
}
