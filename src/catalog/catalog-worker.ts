import { sql } from 'kysely'
import type { Ctx } from '../context.ts'
import type { Db } from '../db/client.ts'
import { nextDueDate, processDueRequests, tenantsWithDueWork } from './process-due-requests.ts'

// 1000 requests per pass, rs-fem's `regards.feature.max.bulk.size`: one pass of 1000 notifications is one
// transaction of a few statements and one outbox insert.
export const WORKER_BATCH = 1000
// The safety net only (work from other instances, a lost wake-up): new work wakes the worker at once, and a
// future-dated request wakes it at its date.
const POLL_MS = 1000
const PURGE_EVERY_MS = 3_600_000

// The workers running on a database handle in this process, so that operator functions given only `db` (force
// a deletion, retry, disseminate) wake them at once instead of waiting for the poll.
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
  #wake: (() => void) | undefined
  #pendingWake = false
  #stopped = false
  #loop: Promise<void> | undefined
  #lastPurge = 0

  constructor(ctx: Ctx, batch = WORKER_BATCH) {
    this.#ctx = ctx
    this.#batch = batch
  }

  start(): void {
    const set = running.get(this.#ctx.db) ?? new Set()
    set.add(this)
    running.set(this.#ctx.db, set)
    this.#loop = this.#run()
  }

  notify(): void {
    this.#pendingWake = true
    this.#wake?.()
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
      if (work.released > 0) this.#pendingWake = true
    }
    return total
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      this.#pendingWake = false
      const now = new Date()
      let next: Date | undefined
      try {
        const done = await this.runOnce(now)
        failures = 0
        if (done > 0 || this.#pendingWake) continue
        next = await nextDueDate(this.#ctx.db, now)
        if (Date.now() - this.#lastPurge > PURGE_EVERY_MS) await this.#purge()
      } catch (err) {
        failures++
        this.#ctx.log.warn({ err: String(err) }, 'catalog worker pass failed, will retry')
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)))
        continue
      }
      if (this.#stopped) break
      const delay = Math.max(0, Math.min(POLL_MS, next ? next.getTime() - Date.now() + 1 : POLL_MS))
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
        if (this.#pendingWake || this.#stopped) this.#wake()
      })
      this.#wake = undefined
    }
  }

  async #purge(): Promise<void> {
    this.#lastPurge = Date.now()
    await sql`delete from catalog_request_history
      where completed_at < now() - make_interval(days => ${this.#ctx.config.historyRetentionDays})`.execute(this.#ctx.db)
  }

  async stop(): Promise<void> {
    running.get(this.#ctx.db)?.delete(this)
    this.#stopped = true
    this.#wake?.()
    await this.#loop
  }
}
