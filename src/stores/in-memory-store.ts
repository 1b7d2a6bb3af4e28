// A store that lives in memory only: for the test driver, global tables, and state rebuilt
// from its changelog on every start. Behind a LoggedStore it behaves like the LevelDB store
// minus the files.
import { type ChangeRecord } from './types.ts'
import { TableStore } from './table-store.ts'

export class InMemoryKeyValueStore<K, V> extends TableStore<K, V> {
  readonly dir = undefined

  // Nothing to write: dropping the dirty set saves serializing values no one reads.
  override async flush(): Promise<void> {
    this.dirty.clear()
  }

  async persist(_records: readonly ChangeRecord[]): Promise<void> {}

  protected async openStorage(): Promise<void> {}

  protected async closeStorage(): Promise<void> {}

  protected async wipeStorage(_reopen: boolean): Promise<void> {}
}
