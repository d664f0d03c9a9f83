import type { Ctx } from '../context.ts'
import { policyFrom, type DeliveryPolicy } from '../senders/policy.ts'
import type { Sender, SendResult } from '../senders/sender.ts'
import { claimDeliveries, recipientsWithWork } from './claim-deliveries.ts'
import { recordResults } from './record-results.ts'
import type { RecipientConfig } from './tenant-config.ts'

interface RecipientRuntime {
  revision: string
  sender: Sender
  policy: DeliveryPolicy
  inFlight: number
}

// The poll is the safety net for work this instance was not told about (another instance's intake,
// retries coming due); new work from this instance wakes the worker at once.
const POLL_MS = 250

/**
 * Delivers claimed batches, per recipient: each recipient has its own claims and its own batches in
 * flight, so a slow or failing recipient never holds back the others.
 */
export class DeliveryWorker {
  readonly #ctx: Ctx
  readonly #runtimes = new Map<number, RecipientRuntime>()
  #wake: (() => void) | undefined
  #pendingWake = false
  #stopped = false
  #loop: Promise<void> | undefined
  readonly #batches = new Set<Promise<void>>()

  constructor(ctx: Ctx) {
    this.#ctx = ctx
  }

  start(): void {
    this.#loop = this.#run()
  }

  notify(): void {
    this.#pendingWake = true
    this.#wake?.()
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#pendingWake = false
      try {
        const recipients = await recipientsWithWork(this.#ctx.db)
        for (const { recipient_id, tenant } of recipients) await this.#fill(tenant, recipient_id)
      } catch (err) {
        this.#ctx.log.warn({ err: String(err) }, 'delivery scan failed, will retry')
      }
      if (this.#pendingWake || this.#stopped) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }

  /** Starts batches for a recipient until its in-flight limit is reached. */
  async #fill(tenant: string, recipientId: number): Promise<void> {
    const config = await this.#ctx.configCache.get(tenant)
    const recipient = config.recipientsById.get(recipientId)
    // An inactive recipient's deliveries wait, nothing is dropped: they flow again once it is re-activated.
    if (!recipient || !recipient.active || !recipient.plugin) return
    const runtime = this.#runtime(recipient)
    while (runtime.inFlight < runtime.policy.maxBatchesInFlight && !this.#stopped) {
      runtime.inFlight++
      const items = await claimDeliveries(this.#ctx.db, recipientId, runtime.policy.batchSize).catch((err) => {
        this.#ctx.log.warn({ err: String(err), recipient: recipient.businessId }, 'claim failed')
        return []
      })
      if (items.length === 0) {
        runtime.inFlight--
        return
      }
      const batch = this.#send(recipient, runtime, items).finally(() => {
        runtime.inFlight--
        this.#batches.delete(batch)
        // A batch finished: there may be more for this recipient.
        this.notify()
      })
      this.#batches.add(batch)
    }
  }

  #runtime(recipient: RecipientConfig): RecipientRuntime {
    const existing = this.#runtimes.get(recipient.id)
    if (existing && existing.revision === recipient.revision) return existing
    if (existing) void existing.sender.close?.()
    const runtime: RecipientRuntime = {
      revision: recipient.revision,
      sender: recipient.plugin!.create(recipient.params, { broker: this.#ctx.broker, log: this.#ctx.log.child({ recipient: recipient.businessId }) }),
      policy: policyFrom(recipient.params, { batchSize: this.#ctx.config.deliveryBatchSize }),
      inFlight: existing?.inFlight ?? 0,
    }
    this.#runtimes.set(recipient.id, runtime)
    return runtime
  }

  async #send(recipient: RecipientConfig, runtime: RecipientRuntime, items: Awaited<ReturnType<typeof claimDeliveries>>): Promise<void> {
    const { ctx } = { ctx: this.#ctx }
    const started = performance.now()
    let results: SendResult[]
    try {
      results = await runtime.sender.send(items)
      if (results.length !== items.length) throw new Error(`sender returned ${results.length} results for ${items.length} items`)
    } catch (err) {
      const message = (err as Error)?.message ?? String(err)
      results = items.map(() => ({ ok: false, permanent: false, errorClass: 'SENDER_EXCEPTION', message }))
    }
    const seconds = (performance.now() - started) / 1000
    const sentItems = items.map((item, i) => ({ deliveryId: item.deliveryId, requestPk: item.requestPk, attempt: item.attempt, result: results[i] }))
    for (let attempt = 0; ; attempt++) {
      try {
        const config = await ctx.configCache.get(recipient.tenant)
        const recorded = await recordResults(ctx.db, sentItems, runtime.policy, config)
        const labels = { tenant: recipient.tenant, recipient: recipient.businessId }
        if (recorded.sent > 0) ctx.events.safeEmit('delivery:sent', { ...labels, count: recorded.sent, seconds })
        if (recorded.retried > 0) ctx.events.safeEmit('delivery:retried', { ...labels, count: recorded.retried })
        if (recorded.failed > 0) ctx.events.safeEmit('delivery:failed', { ...labels, count: recorded.failed, permanent: false })
        if (recorded.succeeded > 0) ctx.events.safeEmit('request:completed', { tenant: recipient.tenant, state: 'SUCCESS', count: recorded.succeeded })
        if (recorded.failed > 0 || recorded.retried > 0) {
          const firstError = results.find((r) => !r.ok) as Extract<SendResult, { ok: false }> | undefined
          ctx.log.warn({ ...labels, retried: recorded.retried, failed: recorded.failed, error: firstError?.message }, 'deliveries failed')
        }
        if (recorded.events.length > 0) ctx.signals.outbox()
        return
      } catch (err) {
        // The products were sent; losing the record would send them again after the lease. Keep trying
        // while the lease holds.
        ctx.log.warn({ err: String(err), recipient: recipient.businessId, attempt }, 'recording delivery results failed, retrying')
        if (this.#stopped && attempt > 3) return
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)))
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#wake?.()
    await this.#loop
    await Promise.allSettled([...this.#batches])
    await Promise.allSettled([...this.#runtimes.values()].map((r) => r.sender.close?.()))
  }
}
