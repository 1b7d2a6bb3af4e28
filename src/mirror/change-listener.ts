// The mirror's own PostgreSQL session: it holds an advisory lock, so that only one mirror
// per database and topic publishes at a time (others stand by and take over when that
// session ends, for instance when `stream --mirror` runs in several instances), and it
// LISTENs to the notifications of the user_metadata trigger (migration 002).
import { type Db } from '../db/pool.ts'

export const CHANGES_CHANNEL = 'user_metadata_changes'
// First half of the two-int advisory lock key; the second is a hash of the topic name.
const LOCK_CLASS = 4_242_002

export interface ListenerEvents {
  /** A changed user id, or undefined when the whole table must be read again (TRUNCATE). */
  onChange: (id: string | undefined) => void
  /** The session broke: the lock and the LISTEN are gone. */
  onLost: (error: unknown) => void
}

type Session = Awaited<ReturnType<Db['connect']>>

export class ChangeListener {
  readonly #session: Session
  #closed = false

  private constructor(session: Session) {
    this.#session = session
  }

  /** Takes the lock and starts listening; resolves undefined when another session holds the lock. */
  static async open(db: Db, lockName: string, events: ListenerEvents): Promise<ChangeListener | undefined> {
    let listener: ChangeListener | undefined
    const session = await db.connect({
      direct: true,
      onLost: error => {
        if (listener !== undefined && !listener.#closed) {
          listener.#closed = true
          events.onLost(error)
        }
      }
    })
    // Closing the session removes the library's error handler, but a server that is ending
    // the session at that moment may still report it; every failure that matters already
    // reaches us through onLost or a failed query.
    session.client.on('error', () => {})
    try {
      const locked = await session.one(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
        [LOCK_CLASS, lockName],
        row => row.locked as boolean
      )
      if (!locked) {
        await session.done()
        return undefined
      }
      session.client.on('notification', message => {
        if (message.channel === CHANGES_CHANNEL) events.onChange(changedId(message.payload))
      })
      await session.none('LISTEN $1:name', [CHANGES_CHANNEL])
      listener = new ChangeListener(session)
      return listener
    } catch (error) {
      await Promise.resolve(session.done()).catch(() => {})
      throw error
    }
  }

  /** A round trip on the session: a dead connection may otherwise go unnoticed for a long time. */
  async ping(): Promise<void> {
    await this.#session.one('SELECT 1')
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Closing the session releases the lock and ends the LISTEN.
    await Promise.resolve(this.#session.done()).catch(() => {})
  }
}

/** The id in a notification payload `{"op","id"}`; none means "read everything again". */
export function changedId(payload: string | undefined): string | undefined {
  try {
    const id = (JSON.parse(payload ?? '') as { id?: unknown }).id
    return typeof id === 'string' ? id : undefined
  } catch {
    return undefined
  }
}
