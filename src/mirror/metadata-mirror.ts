// Keeps the compacted topic `user-metadata` equal to the PostgreSQL table user_metadata.
//
// Order of work, so that no change is ever missed: take the advisory lock and LISTEN first,
// then read the topic's live keys, publish every row of the table, and tombstone the keys
// whose row no longer exists (deleted while no mirror ran). Every change committed after the
// LISTEN is notified, and its row is read again after the snapshot and published; every change
// committed before it is in the snapshot. A lost session loses its notifications, so a
// reconnection repeats the whole synchronisation. Delivery is at least once: a record may be
// published again, which the topic absorbs since each value is the whole current row.
//
// Two guards keep one odd row or one wrong setting from doing harm: a row too large for the
// topic is reported and skipped (later changes still flow; the topic keeps the user's previous
// value), and a topic holding another database's users (every record names its database) is
// refused with a clear message instead of being tombstoned, on whatever machine this runs.
import { setTimeout as delay } from 'node:timers/promises'
import { closeDb, describeDbError, openDb, safeUrl, type Db } from '../db/pool.ts'
import { CellstreamError, UnavailableError, errorMessage } from '../lib/errors.ts'
import { ChangeListener } from './change-listener.ts'
import { MirrorTopic, type KeyedValue } from './mirror-topic.ts'
import { hasChangeTrigger, readUsers, userJson, userPages } from './user-rows.ts'

export const DEFAULT_MIRROR_TOPIC = 'user-metadata'

export interface MetadataMirrorOptions {
  databaseUrl: string
  brokers: string[]
  topic?: string
  /** Partitions of the topic when the mirror creates it (default 1: see docs/mirror.md). */
  partitions?: number
  clientId?: string
  /** Rows per snapshot read, and ids per change batch. */
  batchSize?: number
  /** How often an idle mirror checks its session, and a standby one tries to take over. */
  heartbeatMs?: number
  /** Longest wait between two attempts after a failure. */
  maxRetryMs?: number
  log?: (level: 'info' | 'warn' | 'error', message: string) => void
}

export type MirrorState = 'new' | 'active' | 'standby' | 'stopped'

export class MetadataMirror {
  readonly #options: Required<MetadataMirrorOptions>
  readonly #stopping = new AbortController()
  readonly #pending = new Set<string>()
  #state: MirrorState = 'new'
  #db: Db | undefined
  #topic: MirrorTopic | undefined
  #listener: ChangeListener | undefined
  #resync = false
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  /** This database's identity, stamped on every record. */
  #source = ''
  /** Set when the mirror cannot go on (another database's topic): `done` rejects with it. */
  #fatal: Error | undefined
  /** Records published since start (rows and tombstones), for tests and metrics. */
  published = 0
  /** Rows too large for the topic, skipped since start, for metrics. */
  skipped = 0

  constructor(options: MetadataMirrorOptions) {
    this.#options = {
      topic: DEFAULT_MIRROR_TOPIC,
      partitions: 1,
      clientId: 'cellstream-mirror',
      batchSize: 1000,
      heartbeatMs: 5000,
      maxRetryMs: 5000,
      log: () => {},
      ...options
    }
  }

  get state(): MirrorState {
    return this.#state
  }

  get topic(): string {
    return this.#options.topic
  }

  /** Resolves when the mirror stops; rejects if it had to stop on its own (see the header). */
  get done(): Promise<void> {
    return (this.#loop ?? Promise.resolve()).then(() => {
      if (this.#fatal !== undefined) throw this.#fatal
    })
  }

  /**
   * Connects to both sides and, if no other mirror holds the lock, publishes the snapshot.
   * Resolves when the mirror is following changes or standing by; failures to reach either
   * side at this point reject with an UnavailableError. Later failures are retried.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('a mirror starts once')
    const { databaseUrl, brokers, topic, partitions, clientId } = this.#options
    try {
      this.#db = openDb(databaseUrl, { max: 2 })
      if (!(await hasChangeTrigger(this.#db)))
        throw new UnavailableError(
          `user_metadata has no change trigger in ${safeUrl(databaseUrl)}; run 'cellstream db migrate'`
        )
      this.#source = await databaseIdentity(this.#db, databaseUrl)
      this.#topic = await MirrorTopic.open({ brokers, topic, partitions, clientId })
      await this.#connect()
      if (this.#resync) await this.#sync()
    } catch (error) {
      await this.#close()
      throw describeDbError(error, databaseUrl)
    }
    this.#loop = this.#run()
  }

  /** Finishes the batch in progress, then closes everything. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#stopping.abort()
    this.#wake?.()
    await this.#loop
    await this.#close()
    this.#state = 'stopped'
  }

  async #connect(): Promise<void> {
    const listener = await ChangeListener.open(this.#db!, this.#options.topic, {
      onChange: id => {
        if (id === undefined) this.#resync = true
        else this.#pending.add(id)
        this.#wake?.()
      },
      onLost: error => {
        if (this.#listener !== listener) return
        this.#listener = undefined
        this.#options.log('warn', `lost the PostgreSQL session (${errorMessage(error)}); reconnecting`)
        this.#wake?.()
      }
    })
    if (listener === undefined) {
      if (this.#state !== 'standby')
        this.#options.log('info', `another mirror publishes to ${this.#options.topic}; standing by`)
      this.#state = 'standby'
      return
    }
    if (this.#stopping.signal.aborted) {
      await listener.close()
      return
    }
    this.#listener = listener
    this.#resync = true
    this.#state = 'active'
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopping.signal.aborted) {
      try {
        if (this.#listener === undefined) {
          await this.#connect()
          if (this.#listener === undefined) await this.#pause(this.#options.heartbeatMs)
        } else if (this.#resync) {
          await this.#sync()
        } else if (this.#pending.size > 0) {
          await this.#publishPending()
        } else {
          await this.#idle()
        }
        failures = 0
      } catch (error) {
        if (error instanceof MirrorConflict) {
          this.#options.log('error', error.message)
          this.#fatal = error
          return
        }
        failures++
        this.#options.log(
          'warn',
          `mirror: ${errorMessage(describeDbError(error, this.#options.databaseUrl))}; retrying`
        )
        if (
          this.#listener !== undefined &&
          !(await this.#listener.ping().then(
            () => true,
            () => false
          ))
        ) {
          await this.#dropListener()
        }
        await this.#pause(Math.min(this.#options.maxRetryMs, 100 * 2 ** failures))
      }
    }
  }

  /** Waits for a notification; on a quiet heartbeat, checks that the session still answers. */
  async #idle(): Promise<void> {
    const woken = await new Promise<boolean>(resolve => {
      const timer = setTimeout(() => resolve(false), this.#options.heartbeatMs)
      this.#wake = () => {
        clearTimeout(timer)
        resolve(true)
      }
    })
    this.#wake = undefined
    if (woken || this.#listener === undefined) return
    try {
      await this.#listener.ping()
    } catch (error) {
      this.#options.log('warn', `the PostgreSQL session does not answer (${errorMessage(error)}); reconnecting`)
      await this.#dropListener()
    }
  }

  async #dropListener(): Promise<void> {
    const listener = this.#listener
    this.#listener = undefined
    await listener?.close()
  }

  async #pause(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.#stopping.signal }).catch(() => {})
  }

  /** Publishes the whole table and tombstones the keys it no longer has. */
  async #sync(): Promise<void> {
    this.#resync = false
    // The snapshot reads every row after this point, so these ids are covered.
    this.#pending.clear()
    try {
      const topic = this.#topic!
      const { keys: stale, sources } = await topic.state()
      const foreign = [...sources].filter(source => source !== this.#source)
      if (foreign.length > 0) throw new MirrorConflict(topic.name, foreign[0]!, this.#source)
      let rows = 0
      for await (const page of userPages(this.#db!, this.#options.batchSize)) {
        await this.#publish(page.map(row => ({ key: row.id, value: userJson(row) })))
        for (const row of page) stale.delete(row.id)
        rows += page.length
        if (this.#stopping.signal.aborted) return
      }
      await this.#publish([...stale].map(key => ({ key, value: null })))
      this.#options.log('info', `snapshot: published ${rows} rows and ${stale.size} tombstones to ${topic.name}`)
      this.#options.log(
        'info',
        `following changes to user_metadata (topic ${topic.name}, ${topic.partitions} partition${topic.partitions === 1 ? '' : 's'})`
      )
    } catch (error) {
      this.#resync = true
      throw error
    }
  }

  async #publishPending(): Promise<void> {
    const ids = [...this.#pending].slice(0, this.#options.batchSize)
    for (const id of ids) this.#pending.delete(id)
    try {
      const rows = await readUsers(this.#db!, ids)
      await this.#publish(
        ids.map(id => {
          const row = rows.get(id)
          return { key: id, value: row === undefined ? null : userJson(row) }
        })
      )
    } catch (error) {
      // Newer notifications for these ids may have arrived meanwhile; one read covers both.
      for (const id of ids) this.#pending.add(id)
      throw error
    }
  }

  async #publish(records: KeyedValue[]): Promise<void> {
    const tooLarge = await this.#topic!.publish(records, this.#source)
    for (const { key, bytes, limit } of tooLarge) {
      this.#options.log(
        'warn',
        `user ${key.length > 80 ? `${key.slice(0, 77)}...` : key}: a record of ${bytes} bytes is over the max.message.bytes of ${this.#topic!.name} (${limit}); skipped, the topic keeps its previous value`
      )
    }
    this.skipped += tooLarge.length
    this.published += records.length - tooLarge.length
  }

  async #close(): Promise<void> {
    await this.#dropListener()
    await this.#topic?.close()
    if (this.#db !== undefined) {
      await closeDb(this.#db).catch(() => {})
    }
  }
}

/** The identity migration 004 gives each database. */
async function databaseIdentity(db: Db, url: string): Promise<string> {
  const row = await db.oneOrNone<{ id: string }>('SELECT id FROM cellstream_database').catch((error: unknown) => {
    if ((error as { code?: string }).code === '42P01') return null
    throw error
  })
  if (row === null) throw new UnavailableError(`${safeUrl(url)} has no database identity; run 'cellstream db migrate'`)
  return row.id
}

/** The topic holds users of another database: publishing this one's would tombstone them. */
export class MirrorConflict extends CellstreamError {
  constructor(topic: string, theirs: string, ours: string) {
    super(
      'CS_MIRROR_CONFLICT',
      `topic ${topic} holds the users of another database (${theirs}, this one is ${ours}): mirror each database to a topic of its own (--topic), or delete the topic first`,
      { exitCode: 2 }
    )
    this.name = 'MirrorConflict'
  }
}
