import type { Ctx } from '../context.ts'
import { backoffDelay, sleep, TRANSIENT_BACKOFF } from '../retry.ts'
import { policyFrom, type DeliveryPolicy } from '../senders/policy.ts'
import { createSender, senderContext } from '../senders/sender-context.ts'
import type { Sender, SendResult } from '../senders/sender.ts'
import { WakeLoop } from '../wake-loop.ts'
import { claimDeliveries, recipientsWithWork, type ClaimedDelivery, type RecipientWithWork } from './claim-deliveries.ts'
import { recordResults, type Recorded } from './record-results.ts'
import { RequestCompleter } from './request-completer.ts'
import type { SendNow } from './send-now.ts'
import type { RecipientConfig } from './tenant-config.ts'

interface RecipientRuntime {
  revision: string
  sender: Sender
  policy: DeliveryPolicy
  inFlight: number
  /** Token bucket of `policy.ratePerSecond`: deliveries this instance may still start now. */
  tokens: number
  refilledAt: number
  /**
   * Deliveries of this recipient may be waiting in the database (PENDING) ahead of new ones: the intake
   * then inserts new ones PENDING too, for the worker's claims to take in priority order. True until a
   * pass of the worker finds the recipient has nothing more it may claim.
   */
  waiting: boolean
  /** Counts the times deliveries may have been left waiting: a pass that saw it change cannot clear `waiting`. */
  leftPending: number
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

  /** Deliveries were left PENDING (a retry, an un-park, another process): every recipient may have a backlog. */
  notify(): void {
    for (const runtime of this.#runtimes.values()) this.#leftPending(runtime)
    this.#loop.notify()
  }

  /**
   * Slots for one intake transaction to claim its new deliveries as it inserts them and send them from
   * memory after its commit (send-now.ts).
   */
  sendNow(): SendNow {
    const taken = new Map<number, { recipient: RecipientConfig; runtime: RecipientRuntime; granted: number; batches: number }>()
    let leftPending = false
    const giveBack = (recipient: RecipientConfig, runtime: RecipientRuntime, batches: number, deliveries: number) => {
      this.#current(recipient, runtime).inFlight -= batches
      this.#giveBack(runtime, deliveries)
    }
    const grant = (recipient: RecipientConfig, count: number): number => {
      if (this.#loop.stopped || !recipient.active || !recipient.plugin || taken.has(recipient.id)) return 0
      const runtime = this.#runtime(recipient)
      if (runtime.waiting) return 0
      const { batchSize, maxBatchesInFlight } = runtime.policy
      const granted = this.#take(runtime, Math.min(count, Math.max(0, maxBatchesInFlight - runtime.inFlight) * batchSize))
      const batches = Math.ceil(granted / batchSize)
      runtime.inFlight += batches
      taken.set(recipient.id, { recipient, runtime, granted, batches })
      // The rest is inserted PENDING: the next ones wait behind it.
      if (granted < count) this.#leftPending(runtime)
      return granted
    }
    return {
      take: (recipient, count) => {
        const granted = grant(recipient, count)
        if (granted < count) leftPending = true
        return granted
      },
      send: (claimed) => {
        for (const { recipient, runtime, granted, batches } of taken.values()) {
          // Stopped meanwhile: the claims are handed back by the instance's leave (instance-heartbeat.ts).
          const items = this.#loop.stopped ? [] : (claimed.get(recipient.id) ?? [])
          let launched = 0
          for (let i = 0; i < items.length; i += runtime.policy.batchSize, launched++) {
            this.#launch(recipient, runtime, items.slice(i, i + runtime.policy.batchSize), false)
          }
          giveBack(recipient, runtime, batches - launched, granted - items.length)
          // Fewer inserted claimed than granted: the recipient was parked (its deliveries went in PENDING).
          if (items.length < granted) {
            this.#leftPending(runtime)
            leftPending = true
          }
        }
        taken.clear()
        // What was inserted PENDING is the worker's to claim, at once.
        if (leftPending) this.#loop.notify()
      },
      cancel: () => {
        for (const { recipient, runtime, granted, batches } of taken.values()) giveBack(recipient, runtime, batches, granted)
        taken.clear()
      },
    }
  }

  #leftPending(runtime: RecipientRuntime): void {
    runtime.waiting = true
    runtime.leftPending++
  }

  /** Starts what every recipient with work may take now; returns how soon to look again (ms). */
  async #scan(): Promise<number> {
    let sleepMs = POLL_MS
    const before = new Map([...this.#runtimes].map(([id, runtime]) => [id, runtime.leftPending]))
    const recipients = await recipientsWithWork(this.#ctx.db)
    // A recipient with nothing PENDING has no backlog: new deliveries may go at once.
    const withWork = new Set(recipients.map((r) => r.recipient_id))
    for (const [id, runtime] of this.#runtimes) {
      if (!withWork.has(id) && before.get(id) === runtime.leftPending) runtime.waiting = false
    }
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
      const allowed = this.#take(runtime, runtime.policy.batchSize)
      if (allowed === 0) return Math.max(1, Math.ceil(1000 / runtime.policy.ratePerSecond))
      const leftPending = runtime.leftPending
      const claimed = await this.#start(recipient, runtime, allowed, false)
      this.#giveBack(runtime, allowed - claimed)
      if (claimed < allowed && runtime.leftPending === leftPending) runtime.waiting = false
      if (claimed === 0) break
    }
    return POLL_MS
  }

  /** Up to `wanted` deliveries the recipient's rate allows now (all of them when it has no rate limit). */
  #take(runtime: RecipientRuntime, wanted: number): number {
    const { ratePerSecond } = runtime.policy
    if (ratePerSecond === 0) return wanted
    const now = performance.now()
    runtime.tokens = Math.min(ratePerSecond, runtime.tokens + ((now - runtime.refilledAt) / 1000) * ratePerSecond)
    runtime.refilledAt = now
    const allowed = Math.min(wanted, Math.floor(runtime.tokens))
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
      // Nothing was learnt about its backlog.
      this.#leftPending(runtime)
      return []
    })
    if (items.length === 0) {
      this.#current(recipient, runtime).inFlight--
      return 0
    }
    this.#launch(recipient, runtime, items, probe)
    return items.length
  }

  /** Sends a batch in the background; its slot in `inFlight` is already counted. */
  #launch(recipient: RecipientConfig, runtime: RecipientRuntime, items: ClaimedDelivery[], probe: boolean): void {
    let released = false
    const releaseSlot = () => {
      if (released) return
      released = true
      this.#current(recipient, runtime).inFlight--
      // A batch finished: there may be more for this recipient (a backlog it made wait, a retry).
      this.#loop.notify()
    }
    const batch = this.#send(recipient, runtime, items, probe, releaseSlot).finally(() => {
      releaseSlot()
      this.#batches.delete(batch)
    })
    this.#batches.add(batch)
  }

  /**
   * The runtime that counts a batch's slot now: a new revision of the recipient took over the count of the
   * batches started before it (#runtime).
   */
  #current(recipient: RecipientConfig, runtime: RecipientRuntime): RecipientRuntime {
    return this.#runtimes.get(recipient.id) ?? runtime
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
      waiting: existing?.waiting ?? true,
      leftPending: existing?.leftPending ?? 0,
    }
    this.#runtimes.set(recipient.id, runtime)
    return runtime
  }

  async #send(recipient: RecipientConfig, runtime: RecipientRuntime, items: ClaimedDelivery[], probe: boolean, releaseSlot: () => void): Promise<void> {
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
    const allSucceeded = !probe && results.every((r) => r.ok)
    for (let attempt = 0; ; attempt++) {
      try {
        let recorded: Omit<Recorded, 'finalRequestPks'>
        const inCompletion = allSucceeded ? this.#completer.record(recipient.tenant, recipient.id, sentItems) : undefined
        if (inCompletion) {
          // Done with its recipient: the next batch may go while the completion records this one (holding
          // the slot until then left the recipient idle for a completion's transaction: granted-to-sent at
          // half load went from 1 ms to 40-200 ms). A batch recorded alone holds it until recorded, as a
          // failure may park the recipient.
          releaseSlot()
          recorded = { sent: await inCompletion, retried: 0, failed: 0, parked: false, unparked: false }
        } else {
          const withRequests = await recordResults(ctx.db, ctx.instanceId, sentItems, runtime.policy, recipient, probe)
          this.#completer.add(recipient.tenant, withRequests.finalRequestPks)
          recorded = withRequests
        }
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
