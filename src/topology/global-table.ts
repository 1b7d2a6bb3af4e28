// A global table: a compacted topic replicated in full to every instance, loaded before
// processing starts and kept up to date; a tombstone (null value) deletes its key.
export class GlobalTable<K, V> {
  readonly topic: string
  declare readonly _types: [K, V]

  constructor(topic: string) {
    this.topic = topic
  }
}
