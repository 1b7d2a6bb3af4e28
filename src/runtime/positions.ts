// Where this instance is in each partition it was assigned: the next offset to fetch, and the
// one its last commit recorded. A commit takes the positions of the moment it starts
// (processing goes on beside it) and records them once it went through.
import type { Position } from '../kafka/fetcher.ts'
import type { Offset } from '../kafka/transactions.ts'
import { topicPartition } from '../lib/records.ts'

export type Moved = Offset & { id: string }

export class Positions {
  /** Next offset to fetch per assigned partition (`topic:partition`). */
  readonly next = new Map<string, Position>()
  /** The offset the last commit recorded, per partition. */
  readonly #committed = new Map<string, bigint>()

  /** Starts the assigned partitions from their committed offsets. */
  assign(assigned: Array<{ topic: string; partition: number }>, committed: ReadonlyMap<string, bigint>): void {
    for (const { topic, partition } of assigned) {
      const id = topicPartition(topic, partition)
      this.next.set(id, { topic, partition, offset: committed.get(id)! })
      this.#committed.set(id, committed.get(id)!)
    }
  }

  clear(): void {
    this.next.clear()
    this.#committed.clear()
  }

  /** The assigned partitions, sorted. */
  get assignment(): string[] {
    return [...this.next.keys()].sort()
  }

  /** The partitions whose position moved since the last commit, at their position now. */
  moved(): Moved[] {
    return [...this.next].filter(([id, p]) => this.#committed.get(id) !== p.offset).map(([id, p]) => ({ id, ...p }))
  }

  /**
   * The offsets a commit carries: the moved ones, or, when none moved, one unmoved offset as
   * committed. Offsets carry the group generation, which the broker checks, so a transaction
   * that writes carries at least one: an instance that lost its partitions cannot commit.
   */
  toCommit(moved: Moved[]): Moved[] {
    if (moved.length > 0) return moved
    return [...this.next]
      .filter(([id]) => this.#committed.has(id))
      .slice(0, 1)
      .map(([id, p]) => ({ id, ...p, offset: this.#committed.get(id)! }))
  }

  /** The commit that carried `moved` went through. */
  committed(moved: Moved[]): void {
    for (const p of moved) this.#committed.set(p.id, p.offset)
  }
}
