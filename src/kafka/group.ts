// One instance's membership in its consumer group: joining, the assignment, the generation
// its work is done under, and a fetcher on the same client (raw fetches; the group only
// assigns partitions). Any group event (a join, a cooperative revoke, a rejoin after a lost
// membership, a leave) is reported, and the runtime rebuilds its tasks.
import type { Consumer } from '@platformatic/kafka'
import { createConsumer } from './clients.ts'
import { Fetcher, type FetcherOptions } from './fetcher.ts'

export interface GroupMembership {
  groupId: string
  generationId: number
  memberId: string
  coordinatorId: number
}

const GROUP_EVENTS = ['consumer:group:join', 'consumer:group:rebalance', 'consumer:rejoin', 'consumer:group:leave']

export class GroupMember {
  /** The client, for the adapter's own use (transactions add it to commit offsets). */
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>

  constructor(brokers: string[], clientId: string, groupId: string) {
    this.consumer = createConsumer(brokers, clientId, groupId)
  }

  fetcher(options: FetcherOptions): Fetcher {
    return new Fetcher(this.consumer, options)
  }

  /** Why the client left the group on its own (a rejoin that failed), until it joins again. */
  #lost: Error | undefined

  /** Joins the group for `topics`; `onChange` is called at every group event from then on. */
  async join(topics: string[], onChange: () => void): Promise<void> {
    for (const event of GROUP_EVENTS) this.consumer.on(event, onChange)
    // The client reports a rejoin that failed (the broker gone, or the client closing) as an
    // 'error' event, which ends the process when nobody listens. The member is then out of the
    // group until it joins again: rejoinIfLost() does that on the next rebuild.
    this.consumer.on('error', (error: Error) => {
      this.#lost = error
      onChange()
    })
    this.consumer.topics.trackAll(...topics)
    await this.consumer.joinGroup({})
  }

  /** The error that took the member out of the group, if it is out. */
  get lost(): Error | undefined {
    return this.#lost
  }

  /** Joins the group again if a rejoin failed since the last join; throws while that fails. */
  async rejoinIfLost(): Promise<void> {
    if (this.#lost === undefined) return
    await this.consumer.joinGroup({})
    this.#lost = undefined
  }

  /** The partitions the group gave this member. */
  assigned(): Array<{ topic: string; partition: number }> {
    const assigned: Array<{ topic: string; partition: number }> = []
    for (const { topic, partitions } of this.consumer.assignments ?? [])
      for (const partition of partitions) assigned.push({ topic, partition })
    return assigned
  }

  /** The generation the client is in now. */
  get generationId(): number {
    return this.consumer.generationId
  }

  membership(): GroupMembership {
    const c = this.consumer
    return { groupId: c.groupId, generationId: c.generationId, memberId: c.memberId!, coordinatorId: c.coordinatorId! }
  }

  /** Leaves the group (its partitions move at once), or just closes when that fails. */
  async close(): Promise<void> {
    await this.consumer.close().catch(() => this.consumer.close(true).catch(() => {}))
  }
}
