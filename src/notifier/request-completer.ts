import type { Ctx } from '../context.ts'
import { backoffDelay, sleep, TRANSIENT_BACKOFF } from '../retry.ts'
import { completeRequests, reportCompletion, type Completion } from './complete-requests.ts'

/**
 * Completes requests once their deliveries are recorded: the requests whose deliveries reached a final
 * state are collected here and completed together, one transaction per tenant, while the next ones
 * accumulate. Recording a batch of deliveries therefore never waits for another recipient's batch of the
 * same requests (with two recipients, both recorded the same requests under one lock: 40 % of the
 * database time at 1,000 requests/s went to waiting for it), and a request with two recipients is
 * checked once rather than twice.
 *
 * Each batch is added after its results committed, so the check that runs after the last recipient's
 * commit sees every delivery final. A crash in between leaves the request SCHEDULED with nothing to
 * deliver: the maintenance's stalled-completion pass completes it.
 */
export class RequestCompleter {
  readonly #ctx: Ctx
  #pending = new Map<string, Set<number>>()
  #running: Promise<void> | undefined
  #stopping = false

  constructor(ctx: Ctx) {
    this.#ctx = ctx
  }

  /** Requests of `tenant` that had a delivery reach SUCCESS or ERROR. */
  add(tenant: string, requestPks: number[]): void {
    if (requestPks.length === 0) return
    const set = this.#pending.get(tenant) ?? new Set<number>()
    for (const pk of requestPks) set.add(pk)
    this.#pending.set(tenant, set)
    this.#running ??= this.#drain()
  }

  async #drain(): Promise<void> {
    try {
      await this.#completeAllPending()
    } finally {
      // A request added while this drain was returning (it resumes here a microtask after its last look
      // at #pending) saw #running set and started nothing: start the next drain for it.
      this.#running = undefined
      if (this.#pending.size > 0) this.#running = this.#drain()
    }
  }

  async #completeAllPending(): Promise<void> {
    for (let failures = 0; this.#pending.size > 0; ) {
      const batch = this.#pending
      this.#pending = new Map()
      try {
        for (const [tenant, pks] of batch) {
          await this.#complete(tenant, [...pks].sort((a, b) => a - b))
          batch.delete(tenant)
        }
        failures = 0
      } catch (err) {
        // Stopping with the database away: leave them SCHEDULED for the stalled-completion pass of
        // whichever instance runs next, rather than hold the shutdown.
        if (this.#stopping && failures >= 3) {
          this.#ctx.log.warn({ err }, 'stopping: requests left for the stalled-completion pass')
          this.#pending.clear()
          return
        }
        // Put back what was not completed, then retry: the requests are still SCHEDULED.
        for (const [tenant, pks] of batch) this.add(tenant, [...pks])
        this.#ctx.log.warn({ err, failures }, 'completing requests failed, will retry')
        await sleep(backoffDelay(failures++, TRANSIENT_BACKOFF))
      }
    }
  }

  async #complete(tenant: string, requestPks: number[]): Promise<void> {
    const ctx = this.#ctx
    const config = await ctx.configCache.get(tenant)
    // The events confirmed since the last writer are deleted by the completion's write, when it writes.
    const taken = ctx.signals.takeConfirmedOutbox()
    let completion: Completion
    try {
      completion = await ctx.db.transaction().execute((tx) => completeRequests(tx, requestPks, config, { toOutbox: { fromMemory: true, deleting: taken.ids } }))
    } catch (err) {
      taken.settled(false)
      throw err
    }
    taken.settled(completion.outboxRows !== undefined)
    if (completion.outboxRows?.length) ctx.signals.outbox(completion.outboxRows)
    reportCompletion(ctx, tenant, completion)
  }

  /** Waits for the completions in progress and those already added (a few attempts when they fail). */
  async stop(): Promise<void> {
    this.#stopping = true
    while (this.#running) await this.#running
  }
}
