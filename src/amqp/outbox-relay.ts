import { sql } from 'kysely'
import { PREPARED, type Db, type Tx } from '../db/client.ts'
import type { Logger } from '../log.ts'
import { backoffDelay, sleep, TRANSIENT_BACKOFF } from '../retry.ts'
import { WakeLoop } from '../wake-loop.ts'
import type { Broker } from './broker.ts'

/** An event decided inside a transaction, to be published once that transaction committed. */
export interface OutboxEvent {
  exchange: string
  routingKey?: string
  headers: Record<string, string>
  body: string
  priority?: number
}

/** An outbox row: an event with the id that names its AMQP message on every send. */
export interface OutboxRow {
  id: number
  exchange: string
  routing_key: string
  headers: Record<string, string>
  body: string
  priority: number
}

/**
 * How long a row written to be published from memory is left to its writer (OutboxRelay.publishCommitted)
 * before any relay takes it. The writer's publish is confirmed within milliseconds; a relay publishes the
 * row only when the writer did not (it crashed between commit and confirm, the broker refused it). Longer
 * than RELAY_CONFIRM_WAIT_MS, so a confirm that is merely slow rarely gets the event sent twice.
 */
export const PUBLISH_FROM_MEMORY_GRACE_MS = 5_000
/**
 * At most this many rows published from memory wait for their confirm per instance. A broker slow to
 * confirm (but not blocked) would otherwise let the map, and the id list each relay round sends to skip
 * them, grow with the intake rate: beyond it, rows go to the relay, whose window bounds what waits.
 */
export const FROM_MEMORY_LIMIT = 10 * 1_000

/**
 * Writes events to the outbox in the caller's transaction: one statement for the whole batch. With
 * `fromMemory`, the rows are returned for the caller to hand to {@link OutboxRelay.publishCommitted} after
 * its commit, and the relays leave them alone for PUBLISH_FROM_MEMORY_GRACE_MS.
 */
export async function insertOutbox(tx: Tx, events: OutboxEvent[], opts: { fromMemory?: boolean; deleting?: number[] } = {}): Promise<OutboxRow[]> {
  const deleting = opts.deleting ?? []
  if (events.length === 0) {
    if (deleting.length > 0) await sql`${PREPARED}${outboxDelete(deleting)}`.execute(tx)
    return []
  }
  const { rows } = await sql<OutboxRow>`${PREPARED}${deleting.length > 0 ? sql`with gone as (${outboxDelete(deleting)}) ` : sql``}${outboxInsert(events, opts)}`.execute(tx)
  return rows
}

/**
 * The delete of rows a writer took from {@link OutboxRelay.takeConfirmed}, to run in its own transaction
 * (alone or in a WITH): their delete costs no statement and no commit of its own.
 */
export const outboxDelete = (ids: number[]) => sql`delete from outbox where id = any(${ids}::bigint[])`

/** Confirmed rows a writer deletes in its transaction; `settled` says whether that transaction deleted them. */
export interface TakenOutboxRows {
  ids: number[]
  settled(deleted: boolean): void
}

/** What a process without a relay (the CLI) hands its writers. */
export const NOTHING_TAKEN: TakenOutboxRows = Object.freeze({ ids: [], settled() {} })

/**
 * The insert of {@link insertOutbox} as a statement to run, or to end another statement's WITH
 * (`with …, gone as (…) ${outboxInsert(…)}`, the completion's write) and save a round trip.
 */
export function outboxInsert(events: OutboxEvent[], opts: { fromMemory?: boolean } = {}) {
  const rows = events.map((e) => ({ exchange: e.exchange, routing_key: e.routingKey ?? '', headers: e.headers, body: e.body, priority: e.priority ?? 1 }))
  const graceMs = opts.fromMemory ? PUBLISH_FROM_MEMORY_GRACE_MS : 0
  // The rows are returned as stored (not matched to `events` by position): the message published under
  // an id is the one its row holds, whatever order the insert took. The grace counts from the insert
  // (clock_timestamp), not from the transaction's start (now()): a transaction that waited on locks for
  // seconds would otherwise commit rows already due, and a relay would publish them beside their writer.
  return sql`insert into outbox (exchange, routing_key, headers, body, priority, relay_after)
    select exchange, routing_key, headers, body, priority, clock_timestamp() + make_interval(secs => ${graceMs / 1000}::float8)
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as t(exchange text, routing_key text, headers jsonb, body text, priority int)
    ${opts.fromMemory ? sql`returning id, exchange, routing_key, headers, body, priority` : sql``}`
}

/**
 * At most this many events of the relay's rounds are published and unconfirmed at once per instance: a
 * kill -9 re-sends at most that many of them (500 made 11 % of the events of a run with a kill every 5 s
 * arrive twice). Rounds of 50 confirm in ≈2 ms on loopback, so the window costs little throughput. Events
 * published from memory are outside it: a kill re-sends those of the batches committed in the last
 * milliseconds before it (each confirmed row is deleted by the next writer's transaction, or within
 * DELETE_CONFIRMED_AFTER_MS).
 */
export const RELAY_WINDOW = 50
/**
 * How long a round's transaction waits for confirms. A broker that stops confirming (a memory or disk
 * alarm, a stalled connection) must not hold the rows' transaction, and on PGlite the only connection,
 * any longer: the round commits what was confirmed and the rest stay in the window until the broker
 * answers.
 */
export const RELAY_CONFIRM_WAIT_MS = 2_000
/**
 * How long confirmed rows wait for a writer's transaction to delete them before the relay does it in a
 * statement and a commit of its own (0.08 statements and commits per request in the notifier bench, ~17 %
 * of its commits). Under load a writer comes within milliseconds; idle, they go after this.
 */
const DELETE_CONFIRMED_AFTER_MS = 50
const POLL_MS = 500
// While the broker is blocked or reconnecting.
const BROKER_WAIT_MS = 200

/** The AMQP message id of an outbox event: the same on every re-send, so a consumer can drop copies. */
export const eventMessageId = (outboxId: number | string) => `herald-event-${outboxId}`

/**
 * Publishes outbox rows with publisher confirms, then deletes them, one window at a time, inside a
 * transaction that holds the rows locked (SKIP LOCKED lets several instances relay at once) for at most
 * RELAY_CONFIRM_WAIT_MS. A crash between publish and delete publishes those rows again (at most a
 * window): at-least-once, never lost, each copy with the same message id.
 */
export class OutboxRelay {
  readonly #db: Db
  readonly #broker: Broker
  readonly #log: Logger
  readonly #loop: WakeLoop
  /** Published rows whose confirm had not come when their round committed: they still count in the window. */
  readonly #unconfirmed = new Map<number, Promise<unknown>>()
  /**
   * Rows published from memory (publishCommitted) until their delete: outside the window, which bounds
   * the relay's own re-sends, but never taken by this instance's rounds.
   */
  readonly #fromMemory = new Map<number, Promise<unknown>>()
  /** The last round took as many rows as the window had room for: there may be more waiting. */
  #lastRoundFull = false
  /**
   * Confirmed rows published from memory, waiting for their delete: the next writer's transaction takes
   * them (takeConfirmed), or this relay deletes them after DELETE_CONFIRMED_AFTER_MS (or at its stop).
   */
  #confirmedIds: number[] = []
  #deleteTimer: NodeJS.Timeout | undefined
  readonly #deleteConfirmedAfterMs: number
  #deleting: Promise<void> | undefined
  /** Rows published since start, for metrics. */
  published = 0

  constructor(db: Db, broker: Broker, log: Logger, opts: { deleteConfirmedAfterMs?: number } = {}) {
    this.#db = db
    this.#broker = broker
    this.#log = log
    this.#deleteConfirmedAfterMs = opts.deleteConfirmedAfterMs ?? DELETE_CONFIRMED_AFTER_MS
    this.#loop = new WakeLoop({ name: 'outbox relay', log, pass: () => this.#pass() })
  }

  start(): void {
    this.#loop.start()
  }

  /** New rows were committed: relay them now rather than at the next poll. */
  notify(): void {
    this.#loop.notify()
  }

  /** Events published and not yet confirmed (late confirms of earlier rounds). */
  get unconfirmed(): number {
    return this.#unconfirmed.size + this.#fromMemory.size
  }

  /** One round; returns how long to wait for the next (ms). */
  async #pass(): Promise<number> {
    // A broker that said it is blocked (memory or disk alarm: rabbitmq-client then holds publishes back)
    // or a connection being re-opened: no round, so no transaction, until it is back.
    if (!this.#broker.ready) return BROKER_WAIT_MS
    const relayed = await this.relayOnce()
    // A full window waits for a late confirm (it wakes the loop); a full round may have left more rows.
    if (this.#unconfirmed.size < RELAY_WINDOW && relayed > 0 && this.#lastRoundFull) return 0
    // The poll is only the safety net (other instances' rows, a missed wake-up).
    return POLL_MS
  }

  /**
   * Publishes one window of outbox rows and deletes those the broker confirmed in time; returns how many
   * it published. Throws (after committing the deletes) when some were refused: they stay for the next round.
   */
  async relayOnce(): Promise<number> {
    const room = RELAY_WINDOW - this.#unconfirmed.size
    this.#lastRoundFull = false
    if (room <= 0) return 0
    const late: { row: OutboxRow; confirm: Promise<unknown> }[] = []
    const round = await this.#db.transaction().execute(async (tx) => {
      const { rows } = await sql<OutboxRow>`${PREPARED}
        select id, exchange, routing_key, headers, body, priority from outbox
        where id <> all(${[...this.#unconfirmed.keys(), ...this.#fromMemory.keys()]}::bigint[]) and relay_after <= now()
        order by id limit ${room} for update skip locked`.execute(tx)
      this.#lastRoundFull = rows.length === room
      if (rows.length === 0) return { selected: 0, refused: 0, failure: undefined }
      const confirms = rows.map((row) => this.#publish(row))
      const outcomes = await settledWithin(confirms, RELAY_CONFIRM_WAIT_MS)
      // A connection drop fails only the publishes still unconfirmed: the confirmed rows go, so the next
      // round publishes again just those.
      const confirmed = rows.filter((_, i) => outcomes[i]?.status === 'fulfilled')
      if (confirmed.length > 0) await sql`${PREPARED}delete from outbox where id = any(${confirmed.map((r) => r.id)}::bigint[])`.execute(tx)
      rows.forEach((row, i) => {
        if (outcomes[i] === undefined) late.push({ row, confirm: confirms[i] })
      })
      const failure = outcomes.find((o): o is PromiseRejectedResult => o?.status === 'rejected')?.reason
      return { selected: rows.length, refused: outcomes.filter((o) => o?.status === 'rejected').length, failure }
    })
    for (const { row, confirm } of late) this.#awaitLateConfirm(row.id, confirm)
    if (late.length > 0) this.#log.warn({ count: late.length, waitedMs: RELAY_CONFIRM_WAIT_MS }, 'broker slow to confirm outbox events: their rows are deleted when it does')
    this.published += round.selected - round.refused - late.length
    if (round.refused > 0) {
      throw new Error(`${round.refused} of ${round.selected} outbox events unconfirmed by the broker: ${String(round.failure?.message ?? round.failure)}`, { cause: round.failure })
    }
    return round.selected
  }

  /**
   * Publishes rows its caller just committed (written with `fromMemory`), without waiting for a round:
   * publish → GRANTED and the last delivery → SUCCESS skip a relay transaction each (its select, its
   * delete, its commit). Each confirmed row is deleted, with the others confirmed meanwhile in one
   * statement. A row this instance cannot publish now (the broker reconnecting or blocked, the relay
   * stopping, FROM_MEMORY_LIMIT reached) or that the broker refused is handed to the relays at once
   * rather than after the grace, so it keeps its place in id order: a request's GRANTED (the older row)
   * is not left waiting 5 s while its SUCCESS, published from memory, overtakes it.
   */
  publishCommitted(rows: OutboxRow[]): void {
    if (rows.length === 0) return
    if (!this.#broker.ready || this.#loop.stopped || this.#fromMemory.size + rows.length > FROM_MEMORY_LIMIT) {
      this.#handToRelay(rows.map((r) => r.id), 'the broker is not ready or too many events wait for their confirm')
      return
    }
    // In id order: GRANTED before SUCCESS when one batch holds both.
    for (const row of [...rows].sort((a, b) => a.id - b.id)) {
      const confirm = this.#publish(row)
      this.#fromMemory.set(
        row.id,
        confirm.then(
          () => {
            this.published++
            this.#deleteConfirmed(row.id)
          },
          (err) => {
            this.#fromMemory.delete(row.id)
            this.#handToRelay([row.id], 'the broker refused it', err)
          },
        ),
      )
    }
  }

  /** Publishes an outbox row under its id's message id: the same on every send, so copies can be dropped. */
  #publish(row: OutboxRow): Promise<void> {
    return this.#broker.publish({
      exchange: row.exchange,
      routingKey: row.routing_key,
      headers: row.headers,
      body: row.body,
      priority: row.priority,
      messageId: eventMessageId(row.id),
    })
  }

  /** Makes rows due for the relays now (theirs was the grace), then wakes this instance's relay. */
  #handToRelay(ids: number[], why: string, err?: unknown): void {
    this.#log.warn({ err, count: ids.length, why }, 'committed events left to the outbox relay')
    sql`update outbox set relay_after = clock_timestamp() where id = any(${ids}::bigint[])`
      .execute(this.#db)
      .then(
        () => this.#loop.notify(),
        // Still published: by a relay, after the grace.
        (updateErr: unknown) => this.#log.warn({ err: updateErr, count: ids.length, relayAfterMs: PUBLISH_FROM_MEMORY_GRACE_MS }, 'could not hand committed events to the relay now: it takes them after the grace'),
      )
  }

  #deleteConfirmed(id: number): void {
    this.#confirmedIds.push(id)
    this.#scheduleDelete()
  }

  /**
   * Hands the confirmed rows to a writer that deletes them in the transaction it is about to run; until it
   * says so they stay out of this instance's rounds, and come back here if it did not delete them.
   */
  takeConfirmed(): TakenOutboxRows {
    const ids = this.#confirmedIds
    this.#confirmedIds = []
    return {
      ids,
      settled: (deleted) => {
        if (ids.length === 0) return
        if (deleted) {
          for (const id of ids) this.#fromMemory.delete(id)
          return
        }
        this.#confirmedIds.push(...ids)
        this.#scheduleDelete()
      },
    }
  }

  #scheduleDelete(): void {
    if (this.#deleteTimer || this.#deleting) return
    this.#deleteTimer = setTimeout(() => {
      this.#deleteTimer = undefined
      this.#deleting ??= this.#deleteAllConfirmed()
    }, this.#deleteConfirmedAfterMs)
  }

  /**
   * Deletes the confirmed rows, those confirmed meanwhile with them. A failed delete (the database
   * restarting) is tried again with backoff: the rows stay out of this instance's rounds meanwhile, so a
   * database blip does not publish them a second time. Only a stop gives up on them (another relay then
   * publishes them again after the grace, under the same message id).
   */
  async #deleteAllConfirmed(): Promise<void> {
    let failures = 0
    while (this.#confirmedIds.length > 0) {
      const ids = this.#confirmedIds
      this.#confirmedIds = []
      try {
        await sql`${PREPARED}delete from outbox where id = any(${ids}::bigint[])`.execute(this.#db)
        failures = 0
      } catch (err) {
        if (!this.#loop.stopped) {
          const retryInMs = backoffDelay(failures++, TRANSIENT_BACKOFF)
          this.#log.warn({ err, count: ids.length, retryInMs }, 'deleting confirmed outbox rows failed: trying again')
          this.#confirmedIds.push(...ids)
          await sleep(retryInMs)
          continue
        }
        this.#log.warn({ err, count: ids.length }, 'deleting confirmed outbox rows failed while stopping: a relay publishes them again')
      }
      for (const id of ids) this.#fromMemory.delete(id)
    }
    this.#deleting = undefined
  }

  /** A confirm that came after its round committed: the row goes then (refused: it is published again). */
  #awaitLateConfirm(id: number, confirm: Promise<unknown>): void {
    const settled = confirm.then(
      async () => {
        this.published++
        try {
          await sql`delete from outbox where id = ${id}`.execute(this.#db)
        } catch (err) {
          this.#log.warn({ err, id }, 'deleting a confirmed outbox row failed: it will be published again')
        }
      },
      () => {},
    )
    this.#unconfirmed.set(
      id,
      settled.finally(() => {
        this.#unconfirmed.delete(id)
        // Room in the window again.
        this.#loop.notify()
      }),
    )
  }

  /** Stops the rounds, then gives the events published from memory up to RELAY_CONFIRM_WAIT_MS to be confirmed and deleted. */
  async stop(): Promise<void> {
    await this.#loop.stop()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.#fromMemory.values()]).then(() => {
        // What no writer took any more is deleted now rather than after the timer.
        clearTimeout(this.#deleteTimer)
        this.#deleteTimer = undefined
        return (this.#deleting ??= this.#deleteAllConfirmed())
      }),
      new Promise((resolve) => (timer = setTimeout(resolve, RELAY_CONFIRM_WAIT_MS))),
    ])
    clearTimeout(timer)
  }
}

/** The outcome of each promise settled within `ms` (undefined for those still pending then). */
async function settledWithin<T>(promises: Promise<T>[], ms: number): Promise<(PromiseSettledResult<T> | undefined)[]> {
  const outcomes: (PromiseSettledResult<T> | undefined)[] = promises.map(() => undefined)
  const all = Promise.all(
    promises.map((p, i) =>
      p.then(
        (value) => void (outcomes[i] = { status: 'fulfilled', value }),
        (reason) => void (outcomes[i] = { status: 'rejected', reason }),
      ),
    ),
  )
  let timer: NodeJS.Timeout | undefined
  await Promise.race([all, new Promise((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
  return [...outcomes]
}
