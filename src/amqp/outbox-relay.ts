import { sql } from 'kysely'
import type { Db, Tx } from '../db/client.ts'
import type { Logger } from '../log.ts'
import type { Broker } from './broker.ts'

/** An event decided inside a transaction, to be published once that transaction committed. */
export interface OutboxEvent {
  exchange: string
  routingKey?: string
  headers: Record<string, string>
  body: string
  priority?: number
}

/** Writes events to the outbox in the caller's transaction: one statement for the whole batch. */
export async function insertOutbox(tx: Tx, events: OutboxEvent[]): Promise<void> {
  if (events.length === 0) return
  const rows = events.map((e) => ({ exchange: e.exchange, routing_key: e.routingKey ?? '', headers: e.headers, body: e.body, priority: e.priority ?? 1 }))
  await sql`insert into outbox (exchange, routing_key, headers, body, priority)
    select exchange, routing_key, headers, body, priority
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as t(exchange text, routing_key text, headers jsonb, body text, priority int)`.execute(tx)
}

// 500 rows per round: the broker confirms them in one pipelined burst (≈10 ms on loopback), and the
// delete that follows stays one statement.
export const RELAY_BATCH = 500

/**
 * Publishes outbox rows with publisher confirms, then deletes them, inside one transaction that holds the
 * rows locked (SKIP LOCKED lets several instances relay at once). A crash between publish and delete
 * publishes those rows again: at-least-once, never lost.
 */
export class OutboxRelay {
  readonly #db: Db
  readonly #broker: Broker
  readonly #log: Logger
  #wake: (() => void) | undefined
  #pendingWake = false
  #stopped = false
  #loop: Promise<void> | undefined
  /** Rows published since start, for metrics. */
  published = 0

  constructor(db: Db, broker: Broker, log: Logger) {
    this.#db = db
    this.#broker = broker
    this.#log = log
  }

  start(): void {
    this.#loop = this.#run()
  }

  /** New rows were committed: relay them now rather than at the next poll. */
  notify(): void {
    this.#pendingWake = true
    this.#wake?.()
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      this.#pendingWake = false
      let relayed = 0
      try {
        relayed = await this.relayOnce()
        failures = 0
      } catch (err) {
        failures++
        this.#log.warn({ err: String(err) }, 'outbox relay failed, will retry')
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)))
        continue
      }
      if (relayed === RELAY_BATCH || this.#pendingWake) continue
      // The poll is only the safety net (other instances' rows, a missed wake-up).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }

  /**
   * Publishes one batch of outbox rows and deletes those the broker confirmed; returns how many. Throws
   * (after committing the deletes) when some were not confirmed: they stay for the next round.
   */
  async relayOnce(): Promise<number> {
    const round = await this.#db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ id: number; exchange: string; routing_key: string; headers: Record<string, string>; body: string; priority: number }>`
        select id, exchange, routing_key, headers, body, priority from outbox
        order by id limit ${RELAY_BATCH} for update skip locked`.execute(tx)
      if (rows.length === 0) return { selected: 0, unconfirmed: 0, failure: undefined }
      const outcomes = await Promise.allSettled(
        rows.map((row) =>
          this.#broker.publish({ exchange: row.exchange, routingKey: row.routing_key, headers: row.headers, body: row.body, priority: row.priority }),
        ),
      )
      // A connection drop fails only the publishes still unconfirmed: the confirmed rows go, so the next
      // round publishes again just those (re-sending the whole batch of 500 made every drop duplicate
      // up to 500 events).
      const confirmed = rows.filter((_, i) => outcomes[i].status === 'fulfilled')
      if (confirmed.length > 0) await sql`delete from outbox where id = any(${confirmed.map((r) => r.id)}::bigint[])`.execute(tx)
      const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')?.reason
      return { selected: rows.length, unconfirmed: rows.length - confirmed.length, failure }
    })
    this.published += round.selected - round.unconfirmed
    if (round.unconfirmed > 0) {
      throw new Error(`${round.unconfirmed} of ${round.selected} outbox events unconfirmed by the broker: ${String(round.failure?.message ?? round.failure)}`, { cause: round.failure })
    }
    return round.selected
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#wake?.()
    await this.#loop
  }
}
