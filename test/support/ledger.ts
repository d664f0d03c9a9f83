import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import pg from 'pg'
import { Connection, type Consumer } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFIER_EVENT_EXCHANGE } from '../../src/amqp/topology.ts'
import { openPglite, openPostgres } from '../../src/db/client.ts'
import { migrateOrThrow } from '../../src/db/migrate.ts'
import { importNotifierConfig } from '../../src/notifier/config-import.ts'
import { association, configFile, pluginConf } from './herald.ts'
import { storageSecrets, type TestStorage } from './services.ts'

/**
 * The fault tests' bank reconciliation. Every published request is an entry; the NotifierEvents and the
 * messages found in each recipient queue are the statements. At the end:
 *
 *   published = completed + errored + denied + in-flight
 *
 * with exactly one terminal event (SUCCESS / ERROR / DENIED) per request, every matched recipient holding
 * every completed product at least once, and lost = 0. Duplicates (a second terminal event, a second copy
 * of a product in a recipient queue) are at-least-once's price: they are counted, never hidden.
 */
const run = promisify(execFile)

export const TERMINAL_STATES = new Set(['SUCCESS', 'ERROR', 'DENIED'])

export interface LedgerReport {
  published: number
  completed: number
  errored: number
  denied: number
  inFlight: number
  /** Completed requests that a recipient never received. */
  missingDeliveries: number
  /** inFlight + missingDeliveries: nothing may be left here once the run is over. */
  lost: number
  /** Terminal events beyond the first for a request. */
  duplicateEvents: number
  /** Copies of a product beyond the first, all recipients together: `deliveriesSentAgain` + `extraDeliveries`. */
  duplicateDeliveries: number
  /**
   * Copies of one delivery (same message id `herald-delivery-<id>`) beyond the first: a publish in flight when
   * a connection dropped or a process died, sent again because the broker never confirmed it.
   */
  deliveriesSentAgain: number
  /** Deliveries with another message id for a product a recipient already holds: a second delivery row. */
  extraDeliveries: number
  extraDeliveriesOfResent: number
  /** Of the duplicates above, those of requests the producer itself sent twice. */
  duplicateEventsOfResent: number
  duplicateDeliveriesOfResent: number
  resent: number
  /** Messages the broker gave the ledger twice (its own connection dropped): not duplicates. */
  observerRedeliveries: number
  /** Requests whose terminal events disagree (e.g. ERROR then SUCCESS). */
  conflictingEvents: number
  /** Events or deliveries for request ids that were never published (another run's, or a bug). */
  strangers: number
  /** Total deliveries expected (published non-denied × recipients) and received (with duplicates). */
  deliveriesExpected: number
  deliveriesReceived: number
}

export class Ledger {
  readonly published = new Set<string>()
  /** request id → terminal states received, in order. */
  readonly terminal = new Map<string, string[]>()
  /** recipient → product id → message id of each copy received. */
  readonly deliveries = new Map<string, Map<string, string[]>>()
  /** Requests the producer published more than once (unconfirmed publishes retried). */
  readonly resent = new Set<string>()
  observerRedeliveries = 0
  #strangers = 0
  #done = 0

  constructor(readonly recipients: string[]) {
    for (const r of recipients) this.deliveries.set(r, new Map())
  }

  /** The producer sent this request again (its publish was not confirmed): Herald may rightly answer twice. */
  recordResent(requestId: string): void {
    this.resent.add(requestId)
  }

  recordPublished(requestId: string): void {
    if (this.published.has(requestId)) return
    this.published.add(requestId)
    if (this.terminal.has(requestId)) this.#done++
  }

  /** Records a NotifierEvent body; non-terminal states (GRANTED, …) are ignored. */
  recordEvent(body: { requestId?: string; state?: string }, redelivered = false): void {
    if (!body.requestId || !body.state || !TERMINAL_STATES.has(body.state)) return
    const states = this.terminal.get(body.requestId)
    if (states && redelivered) {
      this.observerRedeliveries++
      return
    }
    if (states) states.push(body.state)
    else {
      this.terminal.set(body.requestId, [body.state])
      if (this.published.has(body.requestId)) this.#done++
    }
  }

  /**
   * A message the broker redelivered to the ledger (its own connection dropped before it acked) and that
   * the ledger already holds is the ledger's re-read, not a second copy from Herald: counted apart.
   */
  recordDelivery(recipient: string, productId: string, messageId: string, redelivered = false): void {
    const byProduct = this.deliveries.get(recipient)
    if (!byProduct) throw new Error(`ledger: unknown recipient ${recipient}`)
    const copies = byProduct.get(productId)
    if (redelivered && copies) {
      this.observerRedeliveries++
      return
    }
    if (copies) copies.push(messageId)
    else byProduct.set(productId, [messageId])
  }

  /** Terminal requests among the published ones. */
  get done(): number {
    return this.#done
  }

  /** Published requests whose every recipient holds the product (or that ended DENIED / ERROR). */
  get settled(): number {
    let n = 0
    for (const id of this.published) {
      const states = this.terminal.get(id)
      if (!states) continue
      if (states[0] !== 'SUCCESS' || this.recipients.every((r) => this.deliveries.get(r)!.has(id))) n++
    }
    return n
  }

  /** Per recipient: copies received and copies beyond the first of a product. */
  duplicatesByRecipient(): Record<string, { received: number; duplicates: number }> {
    const out: Record<string, { received: number; duplicates: number }> = {}
    for (const [recipient, byProduct] of this.deliveries) {
      let received = 0
      for (const copies of byProduct.values()) received += copies.length
      out[recipient] = { received, duplicates: received - byProduct.size }
    }
    return out
  }

  /** Completed requests each recipient never received. */
  missingByRecipient(): Record<string, number> {
    const missing: Record<string, number> = {}
    for (const r of this.recipients) {
      missing[r] = 0
      for (const [id, states] of this.terminal) if (states[0] === 'SUCCESS' && this.published.has(id) && !this.deliveries.get(r)!.has(id)) missing[r]++
    }
    return missing
  }

  /** Waits until every published request is settled (terminal and delivered); false on timeout. */
  async waitSettled(timeoutMs: number, onProgress?: (settled: number) => void): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    let lastReport = Date.now()
    while (Date.now() < deadline) {
      const settled = this.settled
      if (settled >= this.published.size) return true
      if (onProgress && Date.now() - lastReport > 5000) {
        onProgress(settled)
        lastReport = Date.now()
      }
      // Polled, not woken per message: `settled` walks every request, and tens of thousands of walks
      // would make the ledger, not Herald, the bottleneck.
      await new Promise((r) => setTimeout(r, 200))
    }
    return this.settled >= this.published.size
  }

  report(): LedgerReport {
    let completed = 0
    let errored = 0
    let denied = 0
    let inFlight = 0
    let duplicateEvents = 0
    let conflictingEvents = 0
    let missingDeliveries = 0
    let deliveriesExpected = 0
    let duplicateEventsOfResent = 0
    for (const id of this.published) {
      const states = this.terminal.get(id)
      if (!states) {
        inFlight++
        continue
      }
      duplicateEvents += states.length - 1
      if (this.resent.has(id)) duplicateEventsOfResent += states.length - 1
      if (new Set(states).size > 1) conflictingEvents++
      const first = states[0]
      if (first === 'SUCCESS') completed++
      else if (first === 'ERROR') errored++
      else denied++
      if (first === 'SUCCESS') {
        deliveriesExpected += this.recipients.length
        for (const r of this.recipients) if (!this.deliveries.get(r)!.has(id)) missingDeliveries++
      }
    }
    let duplicateDeliveries = 0
    let duplicateDeliveriesOfResent = 0
    let extraDeliveries = 0
    let extraDeliveriesOfResent = 0
    let deliveriesReceived = 0
    let strangers = this.#strangers
    for (const byProduct of this.deliveries.values()) {
      for (const [id, messageIds] of byProduct) {
        const copies = messageIds.length
        const extra = new Set(messageIds).size - 1
        deliveriesReceived += copies
        duplicateDeliveries += copies - 1
        extraDeliveries += extra
        if (this.resent.has(id)) {
          duplicateDeliveriesOfResent += copies - 1
          extraDeliveriesOfResent += extra
        }
        if (!this.published.has(id)) strangers++
      }
    }
    for (const id of this.terminal.keys()) if (!this.published.has(id)) strangers++
    return {
      published: this.published.size,
      completed,
      errored,
      denied,
      inFlight,
      missingDeliveries,
      lost: inFlight + missingDeliveries,
      duplicateEvents,
      duplicateDeliveries,
      deliveriesSentAgain: duplicateDeliveries - extraDeliveries,
      extraDeliveries,
      extraDeliveriesOfResent,
      duplicateEventsOfResent,
      duplicateDeliveriesOfResent,
      resent: this.resent.size,
      observerRedeliveries: this.observerRedeliveries,
      conflictingEvents,
      strangers,
      deliveriesExpected,
      deliveriesReceived,
    }
  }

  /** The reconciliation as text, one figure a line. */
  format(title = 'ledger'): string {
    const r = this.report()
    const pct = (n: number, of: number) => (of === 0 ? '0.00' : ((100 * n) / of).toFixed(2))
    return [
      `── ${title} ──`,
      `published ${r.published} = completed ${r.completed} + errored ${r.errored} + denied ${r.denied} + in-flight ${r.inFlight}` +
        `  [${r.published === r.completed + r.errored + r.denied + r.inFlight ? 'balanced' : 'UNBALANCED'}]`,
      `deliveries: expected ${r.deliveriesExpected}, received ${r.deliveriesReceived} (missing ${r.missingDeliveries}, duplicates ${r.duplicateDeliveries} = ${pct(r.duplicateDeliveries, r.deliveriesExpected)} %: ` +
        `${r.deliveriesSentAgain} copies of a delivery sent again, ${r.extraDeliveries} extra deliveries)`,
      `terminal events: duplicates ${r.duplicateEvents} (${pct(r.duplicateEvents, r.published)} %), conflicting ${r.conflictingEvents}, strangers ${r.strangers}`,
      `producer re-sent ${r.resent} requests (unconfirmed publishes): ${r.duplicateEventsOfResent} of the duplicate events and ${r.duplicateDeliveriesOfResent} of the duplicate deliveries are theirs; ${r.observerRedeliveries} messages re-read by the ledger itself`,
      `lost = ${r.lost}`,
    ].join('\n')
  }
}

/**
 * A REGARDS client for the fault tests, on its own connection: it publishes requests (with confirms,
 * retried until the broker confirms them, so a dropped connection only delays the producer) and reads
 * the NotifierEvents and the recipient queues into a ledger. Its queues are durable and named, so a
 * broker connection drop loses none of the statements; they go with the vhost.
 */
export class LedgerClient {
  readonly rabbit: Connection
  readonly #publisher
  readonly #consumers: Consumer[] = []
  /** Publishes that failed and were tried again (connection drops). */
  republished = 0

  constructor(
    url: string,
    readonly ledger: Ledger,
    readonly tenant = 'faults',
  ) {
    this.rabbit = new Connection({ url, noDelay: true, retryLow: 100, retryHigh: 1000, connectionTimeout: 5000 })
    this.rabbit.on('error', () => {})
    this.#publisher = this.rabbit.createPublisher({ confirm: true, maxAttempts: 1 })
  }

  /** Declares the recipient exchanges (as Herald's RabbitMQSender does) with a queue of its own on each, and starts reading everything. */
  async listen(recipientQueues: Record<string, { exchange: string; queue: string }>): Promise<void> {
    const events = `ledger.events.${randomUUID()}`
    await this.rabbit.exchangeDeclare({ exchange: NOTIFIER_EVENT_EXCHANGE, type: 'fanout', durable: true })
    await this.#consume(events, { durable: true }, [NOTIFIER_EVENT_EXCHANGE], (body, redelivered) => this.ledger.recordEvent(body, redelivered))
    for (const [recipient, { exchange, queue }] of Object.entries(recipientQueues)) {
      // A plain queue of the ledger's own, bound to the recipient's exchange: it reads exactly what Herald
      // published there. Not the REGARDS priority queue (x-max-priority 255) the sender would declare with a
      // queueName: RabbitMQ 3.10 drains those at ~700 messages/s from a backlog (9,000 for a plain queue,
      // measured here), and the ledger, not Herald, would set the pace.
      await this.rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
      await this.rabbit.queueDeclare({ queue, durable: true })
      await this.rabbit.queueBind({ queue, exchange, routingKey: '' })
      await this.#consume(queue, { passive: true }, [], (body, redelivered, messageId) => {
        const id = body?.payload?.id
        if (typeof id === 'string') this.ledger.recordDelivery(recipient, id, messageId ?? '', redelivered)
      })
    }
  }

  async #consume(queue: string, queueOptions: Record<string, unknown>, exchanges: string[], onBody: (body: any, redelivered: boolean, messageId: string | undefined) => void): Promise<void> {
    const consumer = this.rabbit.createConsumer(
      { queue, queueOptions, queueBindings: exchanges.map((exchange) => ({ queue, exchange, routingKey: '' })), qos: { prefetchCount: 2000 } },
      (msg) => {
        try {
          onBody(JSON.parse((msg.body as Buffer).toString('utf8')), msg.redelivered, msg.messageId)
        } catch {
          // not JSON: not a statement of ours
        }
      },
    )
    consumer.on('error', () => {})
    await new Promise<void>((resolve) => consumer.once('ready', () => resolve()))
    this.#consumers.push(consumer)
  }

  /** Publishes one request and resolves once the broker confirmed it, retrying through connection drops. */
  async publish(requestId: string, body: unknown = sampleBody(requestId)): Promise<void> {
    this.ledger.recordPublished(requestId)
    const content = Buffer.from(JSON.stringify(body))
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#publisher.send(
          {
            exchange: NOTIFICATION_REQUEST_EXCHANGE,
            headers: { 'regards.tenant': this.tenant, 'regards.request.id': requestId, 'regards.request.owner': 'ledger' },
            priority: 1,
            durable: true,
            contentType: 'application/json',
            contentEncoding: 'UTF-8',
          },
          content,
        )
        return
      } catch (err) {
        if (attempt >= 600) throw err
        // A re-sent request id is either still registered (deduplicated by Herald) or new again after a
        // SUCCESS: the ledger would count the second terminal event as a duplicate, which it is.
        this.republished++
        this.ledger.recordResent(requestId)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  /** Publishes many requests with at most `window` unconfirmed at a time. */
  async publishMany(ids: string[], window = 500): Promise<void> {
    const pending = new Set<Promise<void>>()
    for (const id of ids) {
      const p = this.publish(id).finally(() => pending.delete(p))
      pending.add(p)
      if (pending.size >= window) await Promise.race(pending)
    }
    await Promise.all(pending)
  }

  async close(): Promise<void> {
    for (const c of this.#consumers) await c.close().catch(() => {})
    await this.#publisher.close().catch(() => {})
    await this.rabbit.close().catch(() => {})
  }
}

/** A request body matched by the fault tests' rule (`action:CREATED`); the product id is the request id. */
export function sampleBody(requestId: string) {
  return {
    payload: {
      type: 'Feature',
      id: requestId,
      urn: `URN:FEATURE:DATA:faults:${requestId}:V1`,
      geometry: { type: 'Point', coordinates: [1.44, 43.6] },
      properties: { is_valid: true, type: 'L2_RAD_GDR', mission: 'SWOT' },
    },
    metadata: { action: 'CREATED', sessionOwner: 'ledger', session: 's1' },
  }
}

/** The fault tests' recipients: two RabbitMQSender recipients matched by every request; `queue` is the ledger's. */
export const FAULT_RECIPIENTS: Record<string, { exchange: string; queue: string }> = {
  'rcp-a': { exchange: 'faults.rcp-a', queue: 'faults.rcp-a.q' },
  'rcp-b': { exchange: 'faults.rcp-b', queue: 'faults.rcp-b.q' },
}

/** Migrates a storage and imports the fault tests' configuration (tenant `faults`) before any Herald starts. */
export async function prepareFaultStorage(storage: TestStorage, opts: { tenant?: string; policy?: Record<string, number> } = {}): Promise<void> {
  const tenant = opts.tenant ?? 'faults'
  const database = storage.databaseUrl ? await openPostgres(storage.databaseUrl, 2) : await openPglite(storage.dataDir)
  try {
    await migrateOrThrow(database.db)
    const recipients = Object.keys(FAULT_RECIPIENTS)
    await importNotifierConfig(
      database.db,
      storageSecrets(storage),
      tenant,
      configFile([
        ...recipients.map((id) => pluginConf('RabbitMQSender', id, { exchange: FAULT_RECIPIENTS[id].exchange, recipientLabel: id, ...Object.fromEntries(Object.entries(opts.policy ?? {}).map(([k, v]) => [k, String(v)])) })),
        pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
        association('created', recipients),
      ]),
    )
  } finally {
    await database.close()
  }
}

/** Where unfinished work sits in Herald's tables (printed when a fault test does not settle). */
export async function describeBacklog(databaseUrl: string, vhost?: string): Promise<string> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    const lines: string[] = []
    if (vhost) {
      const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', '-p', vhost, 'name', 'messages_ready', 'messages_unacknowledged', 'consumers']).catch((err: Error) => ({ stdout: err.message }))
      lines.push(`queues (ready, unacked, consumers):\n${stdout.trim()}`)
    }
    for (const [what, query] of [
      ['requests', `select state, count(*)::int as n from notification_request group by 1 order by 1`],
      ['deliveries', `select state, count(*)::int as n, min(lease_until)::text as lease, max(attempts)::int as attempts from delivery group by 1 order by 1`],
      ['outbox', `select count(*)::int as n from outbox`],
    ] as const) {
      const { rows } = await db.query(query).catch((err: Error) => ({ rows: [{ error: err.message }] }))
      lines.push(`${what}: ${JSON.stringify(rows)}`)
    }
    return lines.join('\n')
  } finally {
    await db.end()
  }
}
