import pg from 'pg'
import { sql } from 'kysely'
import type { Db } from './client.ts'
import type { Logger } from '../log.ts'
import { backoffDelay } from '../retry.ts'

const CHANNEL = 'herald_deliveries'
const RECONNECT_BACKOFF = { firstMs: 500, maxMs: 10_000 }

/** What one instance tells the others: new deliveries to send, new outbox rows to relay, catalog requests made due (an operator's retry, forced deletion, dissemination). */
export type InstanceSignal = 'deliveries' | 'outbox' | 'catalog'
const SIGNALS: readonly string[] = ['deliveries', 'outbox', 'catalog'] satisfies InstanceSignal[]

/** The NOTIFY payload: `<signal> <sender id>` (`deliveries 5f0c…`, `outbox cli:alice:4242`). */
const payloadOf = (signal: InstanceSignal, from: string) => `${signal} ${from}`

/**
 * Tells every Herald process listening on this PostgreSQL, at once, and waits for the NOTIFY to be sent:
 * what a process without a running worker (`herald requests retry`, `herald recipients unpark`) calls
 * before it exits.
 */
export async function signalInstances(db: Db, signal: InstanceSignal, from: string): Promise<void> {
  await sql`select pg_notify(${CHANNEL}, ${payloadOf(signal, from)})`.execute(db)
}

/**
 * New deliveries and outbox rows, announced to the other Herald processes on the same PostgreSQL
 * (LISTEN/NOTIFY), so their workers start at once instead of at their next poll: a retry asked of an
 * HTTP-only instance or of the CLI, or a burst one instance's intake cannot send alone. Within one process
 * the in-process signal does it.
 *
 * A dedicated connection listens (a pooled one would go back to the pool and stop listening). It
 * reconnects after a database restart and then wakes the workers once, for what they missed meanwhile.
 */
export class InstanceSignals {
  readonly #url: string
  readonly #db: Db
  readonly #instanceId: string
  readonly #log: Logger
  /** The listening connection, or the one being opened. */
  #current: pg.Client | undefined
  #onSignal: (signal: InstanceSignal, from: string) => void = () => {}
  #stopped = false
  #reconnectTimer: NodeJS.Timeout | undefined
  #failures = 0
  readonly #announcing = new Set<InstanceSignal>()
  readonly #announceAgain = new Set<InstanceSignal>()

  constructor(databaseUrl: string, db: Db, instanceId: string, log: Logger) {
    this.#url = databaseUrl
    this.#db = db
    this.#instanceId = instanceId
    this.#log = log
  }

  /** Listens for the other instances' announcements; resolves once listening (or retrying in the background). */
  async start(onSignal: (signal: InstanceSignal, from: string) => void): Promise<void> {
    this.#onSignal = onSignal
    await this.#listen()
  }

  /**
   * Tells the other instances that there is new work (new deliveries by default). Coalesced per signal: one
   * NOTIFY at a time, and one more afterwards for all the calls made meanwhile (an intake at 1,000
   * requests/s calls this per batch).
   */
  announce(signal: InstanceSignal = 'deliveries'): void {
    if (this.#stopped) return
    if (this.#announcing.has(signal)) {
      this.#announceAgain.add(signal)
      return
    }
    this.#announcing.add(signal)
    signalInstances(this.#db, signal, this.#instanceId)
      .catch((err) => this.#log.debug({ err, signal }, 'could not announce new work (the others will poll)'))
      .finally(() => {
        this.#announcing.delete(signal)
        if (this.#announceAgain.delete(signal)) this.announce(signal)
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
      const [signal, from = ''] = (msg.payload ?? '').split(' ')
      if (from !== this.#instanceId && SIGNALS.includes(signal)) this.#onSignal(signal as InstanceSignal, from)
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
        this.#onSignal('deliveries', 'reconnection')
        this.#onSignal('outbox', 'reconnection')
        this.#onSignal('catalog', 'reconnection')
      }
      this.#failures = 0
    } catch (err) {
      this.#log.warn({ err }, 'cannot listen to the other instances yet (their new work is found by polling)')
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
