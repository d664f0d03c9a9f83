import { sql } from 'kysely'
import type { Ctx } from '../context.ts'
import type { Db } from '../db/client.ts'
import { WakeLoop } from '../wake-loop.ts'
import { nextDueDate, processDueRequests, tenantsWithDueWork } from './process-due-requests.ts'

// 1000 requests per pass, rs-fem's `regards.feature.max.bulk.size`: one pass of 1000 notifications is one
// transaction of a few statements and one outbox insert.
export const WORKER_BATCH = 1000
// The safety net only (work from other instances, a lost wake-up): new work wakes the worker at once, and a
// future-dated request wakes it at its date.
const POLL_MS = 1000
const PURGE_EVERY_MS = 3_600_000

// The workers running on a database handle in this process, so that the catalog signal (an operator's retry,
// forced deletion or dissemination, here or from another instance or the CLI: src/main.ts) wakes them at once
// instead of waiting for the poll.
const running = new WeakMap<Db, Set<CatalogWorker>>()

/** Wakes this process's catalog workers on `db` (other instances pick the work up at their next poll). */
export function wakeCatalogWorkers(db: Db): void {
  for (const worker of running.get(db) ?? []) worker.notify()
}

/**
 * The catalog's scheduler, event-driven: intake wakes it (`notify`) the moment a request is registered, it
 * sleeps until the next request date otherwise, and a 1 s poll is the safety net. Replaces rs-fem's 3-second
 * scheduler cycles (FeatureTaskScheduler).
 */
export class CatalogWorker {
  readonly #ctx: Ctx
  readonly #batch: number
  readonly #loop: WakeLoop
  #lastPurge = 0

  constructor(ctx: Ctx, batch = WORKER_BATCH) {
    this.#ctx = ctx
    this.#batch = batch
    this.#loop = new WakeLoop({ name: 'catalog worker pass', log: ctx.log, pass: () => this.#pass() })
  }

  start(): void {
    const set = running.get(this.#ctx.db) ?? new Set()
    set.add(this)
    running.set(this.#ctx.db, set)
    this.#loop.start()
  }

  notify(): void {
    this.#loop.notify()
  }

  /** Processes everything due now, across tenants; returns how many requests were processed or sent. */
  async runOnce(now = new Date()): Promise<number> {
    const { log, db, signals } = this.#ctx
    let total = 0
    for (const tenant of await tenantsWithDueWork(db, now)) {
      const work = await processDueRequests(db, tenant, now, this.#batch)
      total += work.processed + work.sent
      if (work.events > 0) signals.outbox()
      for (const b of work.blocked) {
        log.info({ tenant, requestId: b.requestId, urn: b.urn, labels: b.labels }, 'deletion blocked: waiting for the acknowledgement of a blocking dissemination')
      }
      for (const f of work.failed) log.warn({ tenant, requestId: f.requestId, errors: f.errors }, 'catalog request failed')
      // Released deletions are due at once: another pass.
      if (work.released > 0) this.#loop.notify()
    }
    return total
  }

  /** One pass; returns how long to sleep: until the next request date, at most the poll. */
  async #pass(): Promise<number> {
    const now = new Date()
    const done = await this.runOnce(now)
    if (done > 0 || this.#loop.notified) return 0
    const next = await nextDueDate(this.#ctx.db, now)
    if (Date.now() - this.#lastPurge > PURGE_EVERY_MS) await this.#purge()
    return Math.min(POLL_MS, next ? next.getTime() - Date.now() + 1 : POLL_MS)
  }

  async #purge(): Promise<void> {
    this.#lastPurge = Date.now()
    await sql`delete from catalog_request_history
      where completed_at < now() - make_interval(days => ${this.#ctx.config.historyRetentionDays})`.execute(this.#ctx.db)
  }

  async stop(): Promise<void> {
    running.get(this.#ctx.db)?.delete(this)
    await this.#loop.stop()
  }
}
