import pg from 'pg'
import { sql } from 'kysely'
import type { Db } from './client.ts'
import type { Logger } from '../log.ts'
import { backoffDelay } from '../retry.ts'

const CHANNEL = 'herald_deliveries'
const RECONNECT_BACKOFF = { firstMs: 500, maxMs: 10_000 }

/**
 * New deliveries, announced to the other Herald processes on the same PostgreSQL (LISTEN/NOTIFY), so
 * their workers start at once instead of at their next poll: a retry asked of an HTTP-only instance, or
 * a burst one instance's intake cannot send alone. Within one process the in-process signal does it.
 *
 * A dedicated connection listens (a pooled one would go back to the pool and stop listening). It
 * reconnects after a database restart and then wakes the worker once, for what it missed meanwhile.
 */
export class InstanceSignals {
  readonly #url: string
  readonly #db: Db
  readonly #instanceId: string
  readonly #log: Logger
  /** The listening connection, or the one being opened. */
  #current: pg.Client | undefined
  #onDeliveries: () => void = () => {}
  #stopped = false
  #reconnectTimer: NodeJS.Timeout | undefined
  #failures = 0
  #announcing = false
  #announceAgain = false

  constructor(databaseUrl: string, db: Db, instanceId: string, log: Logger) {
    this.#url = databaseUrl
    this.#db = db
    this.#instanceId = instanceId
    this.#log = log
  }

  /** Listens for the other instances' announcements; resolves once listening (or retrying in the background). */
  async start(onDeliveries: () => void): Promise<void> {
    this.#onDeliveries = onDeliveries
    await this.#listen()
  }

  /**
   * Tells the other instances that there are new deliveries. Coalesced: one NOTIFY at a time, and one
   * more afterwards for all the calls made meanwhile (an intake at 1,000 requests/s calls this per batch).
   */
  announce(): void {
    if (this.#stopped) return
    if (this.#announcing) {
      this.#announceAgain = true
      return
    }
    this.#announcing = true
    sql`select pg_notify(${CHANNEL}, ${this.#instanceId})`
      .execute(this.#db)
      .catch((err) => this.#log.debug({ err: String(err) }, 'could not announce new deliveries (the others will poll)'))
      .finally(() => {
        this.#announcing = false
        if (this.#announceAgain) {
          this.#announceAgain = false
          this.announce()
        }
      })
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#reconnectTimer)
    await this.#current?.end().catch(() => {})
  }

  async #listen(): Promise<void> {
    // keepAlive: a connection dropped silently (a firewall's idle timeout) is noticed and replaced.
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5_000, keepAlive: true })
    this.#current = client
    client.on('notification', (msg) => {
      if (msg.payload !== this.#instanceId) this.#onDeliveries()
    })
    client.on('error', (err) => {
      this.#log.warn({ err }, 'connection listening to the other instances failed, reconnecting')
      this.#reconnect(client)
    })
    client.on('end', () => this.#reconnect(client))
    try {
      await client.connect()
      await client.query(`listen ${CHANNEL}`)
      if (this.#failures > 0) {
        this.#log.info('listening to the other instances again')
        // Announcements sent while this connection was down are lost: look for work now.
        this.#onDeliveries()
      }
      this.#failures = 0
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'cannot listen to the other instances yet (their new work is found by polling)')
      this.#reconnect(client)
    }
  }

  #reconnect(client: pg.Client): void {
    // A connection already replaced (its late 'error' or 'end') changes nothing.
    if (this.#stopped || client !== this.#current || this.#reconnectTimer) return
    client.removeAllListeners('end')
    client.end().catch(() => {})
    const delay = backoffDelay(this.#failures++, RECONNECT_BACKOFF)
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined
      void this.#listen()
    }, delay)
  }
}
