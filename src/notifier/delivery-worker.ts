import type { Ctx } from '../context.ts'
import { backoffDelay, sleep, TRANSIENT_BACKOFF } from '../retry.ts'
import { policyFrom, type DeliveryPolicy } from '../senders/policy.ts'
import { createSender, senderContext } from '../senders/sender-context.ts'
import type { Sender, SendResult } from '../senders/sender.ts'
import { WakeLoop } from '../wake-loop.ts'
import { claimDeliveries, recipientsWithWork, type RecipientWithWork } from './claim-deliveries.ts'
import { recordResults } from './record-results.ts'
import { RequestCompleter } from './request-completer.ts'
import type { RecipientConfig } from './tenant-config.ts'

interface RecipientRuntime {
  revision: string
  sender: Sender
  policy: DeliveryPolicy
  inFlight: number
  /** Token bucket of `policy.ratePerSecond`: deliveries this instance may still start now. */
  tokens: number
  refilledAt: number
}

// The poll is the safety net for work this instance was not told about (another instance's intake,
// retries coming due); new work from this instance wakes the worker at once.
const POLL_MS = 250
// At a clean stop, batches being sent get this long to finish and be recorded; the claims of those still
// running are then handed back (sent again by another instance: the price of not waiting for a slow
// recipient's 30 s timeout).
const STOP_DRAIN_MS = 2_000

/**
 * Delivers claimed batches, per recipient: each recipient has its own claims, its own batches in flight
 * and its own rate, so a slow, failing or parked recipient never holds back the others.
 */
export class DeliveryWorker {
  readonly #ctx: Ctx
  readonly #runtimes = new Map<number, RecipientRuntime>()
  readonly #loop: WakeLoop
  readonly #batches = new Set<Promise<void>>()
  readonly #completer: RequestCompleter

  constructor(ctx: Ctx) {
    this.#ctx = ctx
    this.#completer = new RequestCompleter(ctx)
    this.#loop = new WakeLoop({ name: 'delivery scan', log: ctx.log, pass: () => this.#scan() })
  }

  start(): void {
    this.#loop.start()
  }

  notify(): void {
    this.#loop.notify()
  }

  /** Starts what every recipient with work may take now; returns how soon to look again (ms). */
  async #scan(): Promise<number> {
    let sleepMs = POLL_MS
    const recipients = await recipientsWithWork(this.#ctx.db)
    for (const recipient of recipients) sleepMs = Math.min(sleepMs, await this.#fill(recipient))
    return sleepMs
  }

  /** Starts batches for a recipient within its limits; returns how soon it may take more (ms). */
  async #fill(work: RecipientWithWork): Promise<number> {
    const config = await this.#ctx.configCache.get(work.tenant)
    const recipient = config.recipientsById.get(work.recipient_id)
    // An inactive recipient's deliveries wait, nothing is dropped: they flow again once it is re-activated.
    if (!recipient || !recipient.active || !recipient.plugin) return POLL_MS
    const runtime = this.#runtime(recipient)
    if (work.parked) {
      // Parked: one delivery at a time, as a probe, when the probe is due (never when parked by hand).
      if (work.next_probe_at === null || work.next_probe_at.getTime() > Date.now() || runtime.inFlight > 0) return POLL_MS
      await this.#start(recipient, runtime, 1, true)
      return POLL_MS
    }
    while (runtime.inFlight < runtime.policy.maxBatchesInFlight && !this.#loop.stopped) {
      const allowed = this.#take(runtime)
      if (allowed === 0) return Math.max(1, Math.ceil(1000 / runtime.policy.ratePerSecond))
      const claimed = await this.#start(recipient, runtime, allowed, false)
      this.#giveBack(runtime, allowed - claimed)
      if (claimed === 0) break
    }
    return POLL_MS
  }

  /** Tokens available for a batch (the whole batch size when the recipient has no rate limit). */
  #take(runtime: RecipientRuntime): number {
    const { ratePerSecond, batchSize } = runtime.policy
    if (ratePerSecond === 0) return batchSize
    const now = performance.now()
    runtime.tokens = Math.min(ratePerSecond, runtime.tokens + ((now - runtime.refilledAt) / 1000) * ratePerSecond)
    runtime.refilledAt = now
    const allowed = Math.min(batchSize, Math.floor(runtime.tokens))
    runtime.tokens -= allowed
    return allowed
  }

  #giveBack(runtime: RecipientRuntime, unused: number): void {
    if (runtime.policy.ratePerSecond > 0) runtime.tokens += unused
  }

  /** Claims up to `limit` deliveries and sends them in the background; returns how many it claimed. */
  async #start(recipient: RecipientConfig, runtime: RecipientRuntime, limit: number, probe: boolean): Promise<number> {
    runtime.inFlight++
    const items = await claimDeliveries(this.#ctx.db, this.#ctx.instanceId, recipient.id, limit, !probe).catch((err) => {
      this.#ctx.log.warn({ err, recipient: recipient.businessId }, 'claim failed')
      return []
    })
    if (items.length === 0) {
      runtime.inFlight--
      return 0
    }
    const batch = this.#send(recipient, runtime, items, probe).finally(() => {
      runtime.inFlight--
      this.#batches.delete(batch)
      // A batch finished: there may be more for this recipient.
      this.notify()
    })
    this.#batches.add(batch)
    return items.length
  }

  #runtime(recipient: RecipientConfig): RecipientRuntime {
    const existing = this.#runtimes.get(recipient.id)
    if (existing && existing.revision === recipient.revision) return existing
    // The old sender's batches in flight finish on their own; closing it is tidying up, never fatal.
    existing?.sender.close?.()?.catch((err: unknown) => this.#ctx.log.warn({ err, recipient: recipient.businessId }, 'closing a replaced sender failed'))
    const policy = policyFrom(recipient.params, { batchSize: this.#ctx.config.deliveryBatchSize })
    const runtime: RecipientRuntime = {
      revision: recipient.revision,
      sender: createSender(recipient.plugin!, recipient.params, senderContext(this.#ctx, recipient)),
      policy,
      inFlight: existing?.inFlight ?? 0,
      tokens: policy.ratePerSecond,
      refilledAt: performance.now(),
    }
    this.#runtimes.set(recipient.id, runtime)
    return runtime
  }

  async #send(recipient: RecipientConfig, runtime: RecipientRuntime, items: Awaited<ReturnType<typeof claimDeliveries>>, probe: boolean): Promise<void> {
    const ctx = this.#ctx
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
    const labels = { tenant: recipient.tenant, recipient: recipient.businessId }
    for (let attempt = 0; ; attempt++) {
      try {
        const recorded = await recordResults(ctx.db, ctx.instanceId, sentItems, runtime.policy, recipient, probe)
        this.#completer.add(recipient.tenant, recorded.finalRequestPks)
        if (recorded.sent > 0) ctx.events.safeEmit('delivery:sent', { ...labels, count: recorded.sent, seconds })
        if (recorded.retried > 0) ctx.events.safeEmit('delivery:retried', { ...labels, count: recorded.retried })
        if (recorded.failed > 0) ctx.events.safeEmit('delivery:failed', { ...labels, count: recorded.failed, permanent: false })
        if (recorded.failed > 0 || recorded.retried > 0) {
          const firstError = results.find((r) => !r.ok) as Extract<SendResult, { ok: false }> | undefined
          ctx.log.warn({ ...labels, retried: recorded.retried, failed: recorded.failed, error: firstError?.message }, 'deliveries failed')
        }
        if (recorded.parked) {
          const reason = (results.find((r) => !r.ok) as Extract<SendResult, { ok: false }> | undefined)?.message
          ctx.log.error({ ...labels, reason, probeEveryMs: runtime.policy.probeIntervalMs }, 'recipient PARKED: its deliveries wait until it answers again')
          ctx.events.safeEmit('recipient:parked', { ...labels, reason: reason ?? '' })
        }
        if (recorded.unparked) {
          ctx.log.info(labels, 'recipient answered its probe: un-parked, its backlog drains')
          ctx.events.safeEmit('recipient:unparked', labels)
        }
        return
      } catch (err) {
        // The products were sent; losing the record would send them again after the lease. Keep trying
        // while the lease holds.
        ctx.log.warn({ err, recipient: recipient.businessId, attempt }, 'recording delivery results failed, retrying')
        if (this.#loop.stopped && attempt > 3) return
        await sleep(backoffDelay(attempt, TRANSIENT_BACKOFF))
      }
    }
  }

  async stop(): Promise<void> {
    await this.#loop.stop()
    let timer: NodeJS.Timeout | undefined
    const drained = await Promise.race([
      Promise.allSettled([...this.#batches]).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STOP_DRAIN_MS))),
    ])
    clearTimeout(timer)
    if (!drained) this.#ctx.log.warn({ batches: this.#batches.size, waitedMs: STOP_DRAIN_MS }, 'stopping: batches still being sent, their claims are handed back')
    await this.#completer.stop()
    // A sender closes once its requests are done (undici's agent waits for them): not waited for when a
    // batch is still running.
    const closed = Promise.allSettled([...this.#runtimes.values()].map((r) => r.sender.close?.()))
    if (drained) await closed
  }
}
