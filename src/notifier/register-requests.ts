import { sql } from 'kysely'
import { PREPARED, type Tx } from '../db/client.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import { notifierEvent } from './notifier-event.ts'
import type { ParsedMessage, RequestBody } from './parse-request.ts'
import { evaluateRules, matchRequests, ruleErrorEvent, type RequestToMatch, type RuleError, type RuleVerdict } from './match-requests.ts'
import { completeRequests, type Completion } from './complete-requests.ts'
import { LEASE_SECONDS, type ClaimedDelivery } from './claim-deliveries.ts'
import type { SendNow } from './send-now.ts'
import type { TenantConfig } from './tenant-config.ts'

type Incoming = Extract<ParsedMessage, { kind: 'request' | 'denied' }>
type IncomingRequest = Extract<ParsedMessage, { kind: 'request' }>

export interface Registration {
  events: OutboxEvent[]
  denied: { requestId: string; reason: string }[]
  granted: number
  retried: number
  ignored: { requestId: string; reason: 'duplicate-in-batch' | 'in-progress' | 'redelivered' }[]
  deliveries: number
  /** Deliveries inserted claimed by this instance, by recipient id: to send from memory after the commit (send-now.ts). */
  sending: Map<number, ClaimedDelivery[]>
  /** How many of `deliveries` are in `sending`: the others wait for the delivery worker's claims. */
  sentNow: number
  ruleErrors: RuleError[]
  /** Requests completed at once (matched nobody, or a retry with nothing left to send): their events are in `events` too. */
  completion: Completion
}

interface LiveRow {
  id: number
  request_id: string
  request_owner: string | null
  request_date: Date
  priority: number
  mode: 'RULES' | 'DIRECT'
  state: string
  errors: number
  payload: Record<string, unknown>
  metadata: Record<string, unknown>
}

/**
 * Registers one tenant's share of an AMQP batch in the caller's transaction: answers DENIED, GRANTED or
 * TO_SCHEDULE_BY_RECIPIENT, applies retries of known request ids, and matches the requests
 * that are due at once, so a request reaches its recipients' queues without waiting for a scheduler.
 */
export async function registerRequests(
  tx: Tx,
  tenant: string,
  incoming: Incoming[],
  direct: boolean,
  config: TenantConfig,
  now: Date,
  sendNow: SendingInstance,
): Promise<Registration> {
  const reg: Registration = {
    events: [],
    denied: [],
    granted: 0,
    retried: 0,
    ignored: [],
    deliveries: 0,
    sending: new Map(),
    sentNow: 0,
    ruleErrors: [],
    completion: { events: [], succeeded: 0, failed: 0 },
  }
  const deny = (requestId: string, requestOwner: string | undefined, reason: string) => {
    reg.denied.push({ requestId, reason })
    reg.events.push(notifierEvent({ tenant, requestId, requestOwner, state: 'DENIED', notificationDate: now, errors: [reason] }))
  }

  // The first message of a request id wins; later copies in the same batch are ignored (REGARDS).
  const requests: IncomingRequest[] = []
  const seen = new Set<string>()
  for (const item of incoming) {
    if (item.kind === 'denied') deny(item.requestId, item.requestOwner, item.reason)
    else if (seen.has(item.requestId)) reg.ignored.push({ requestId: item.requestId, reason: 'duplicate-in-batch' })
    else {
      seen.add(item.requestId)
      requests.push(item)
    }
  }
  if (requests.length === 0) return reg

  const ids = requests.map((r) => r.requestId)
  const { rows: liveRows } = await sql<LiveRow>`${PREPARED}
    select r.id, r.request_id, r.request_owner, r.request_date, r.priority, r.mode, r.state, r.payload, r.metadata,
      (select count(*) from delivery d where d.request_pk = r.id and d.state = 'ERROR') as errors
    from notification_request r
    where r.tenant = ${tenant} and r.request_id = any(${ids}::text[])
    for update`.execute(tx)
  const live = new Map(liveRows.map((row) => [row.request_id, row]))

  // A message the broker redelivers (its first delivery's ack was lost) whose request already completed
  // is the same message again, not a new request: ignore it instead of notifying everyone twice.
  const redeliveredIds = requests.filter((r) => r.redelivered && !live.has(r.requestId)).map((r) => r.requestId)
  const completedBefore = new Set<string>()
  if (redeliveredIds.length > 0) {
    const { rows } = await sql<{ request_id: string }>`select request_id from request_history
      where tenant = ${tenant} and request_id = any(${redeliveredIds}::text[])`.execute(tx)
    for (const row of rows) completedBefore.add(row.request_id)
  }

  const toInsert: (IncomingRequest & { body: RequestBody })[] = []
  const retries: { row: LiveRow; body: RequestBody | undefined }[] = []
  for (const item of requests) {
    const row = live.get(item.requestId)
    if (row) {
      const hasErrors = row.state === 'ERROR' || row.state === 'RULE_ERROR' || row.errors > 0
      if (!hasErrors) reg.ignored.push({ requestId: item.requestId, reason: 'in-progress' })
      else if (item.bodyError) deny(item.requestId, item.requestOwner, `retry refused: ${item.bodyError}`)
      else retries.push({ row, body: item.body })
    } else if (completedBefore.has(item.requestId)) {
      reg.ignored.push({ requestId: item.requestId, reason: 'redelivered' })
    } else if (!item.body) {
      deny(item.requestId, item.requestOwner, item.bodyError ?? 'body is empty: payload is mandatory')
    } else if (direct) {
      const problem = directRecipientProblem(item.body.recipients ?? [], config)
      if (problem) deny(item.requestId, item.requestOwner, problem)
      else toInsert.push({ ...item, body: item.body })
    } else {
      toInsert.push({ ...item, body: item.body })
    }
  }

  const toMatch: RequestToMatch[] = []
  const scheduledDirect: number[] = []
  if (toInsert.length > 0) await insertRequests(tx, tenant, toInsert, direct, config, now, sendNow, reg, scheduledDirect)

  if (retries.length > 0) await applyRetries(tx, tenant, retries, direct, config, reg, toMatch, scheduledDirect)

  const matched = await matchRequests(tx, config, toMatch)
  reg.events.push(...matched.events)
  reg.deliveries += matched.deliveries
  reg.ruleErrors.push(...matched.ruleErrors)
  // A request that matched no recipient (or a retry with nothing left to send) completes right here.
  reg.completion = await completeRequests(tx, [...matched.scheduled, ...scheduledDirect], config)
  reg.events.push(...reg.completion.events)
  return reg
}

/** The instance registering, and the deliveries its worker lets it claim at once. */
export interface SendingInstance {
  instanceId: string
  slots: SendNow
}

interface NewDelivery {
  request_id: string
  recipient_id: number
  /** Inserted SENDING, claimed by this instance, unless the recipient is parked. */
  claim: boolean
}

/**
 * Stores new requests with their deliveries in one statement. Rules are evaluated before the insert, so a
 * due request is stored in its final state (SCHEDULED, or RULE_ERROR) with its deliveries at once; a
 * request dated in the future is stored GRANTED and matched when due (maintenance). Requests that matched
 * no recipient join `completeNow`.
 */
async function insertRequests(
  tx: Tx,
  tenant: string,
  toInsert: (IncomingRequest & { body: RequestBody })[],
  direct: boolean,
  config: TenantConfig,
  now: Date,
  sendNow: SendingInstance,
  reg: Registration,
  completeNow: number[],
): Promise<void> {
  // A request dated in the future waits for its date (seed 002: "can be in the future to delay").
  const due = direct ? [] : toInsert.filter((item) => item.requestDate <= now)
  const dueVerdicts = await evaluateRules(config, due.map((item) => item.body))
  const matched = new Map(due.map((item, i) => [item, dueVerdicts[i]]))
  const verdicts = toInsert.map((item): RuleVerdict | undefined => {
    if (direct) return { recipientIds: (item.body.recipients ?? []).map((businessId) => config.recipientsByBusinessId.get(businessId)!.id), errors: [], rules: [] }
    return matched.get(item)
  })
  const rows = toInsert.map((item, i) => {
    const verdict = verdicts[i]
    return {
      request_id: item.requestId,
      request_owner: item.requestOwner ?? null,
      request_date: item.requestDate.toISOString(),
      not_before: new Date(Math.max(item.requestDate.getTime(), now.getTime())).toISOString(),
      priority: item.priority,
      state: !verdict ? 'GRANTED' : verdict.errors.length > 0 ? 'RULE_ERROR' : 'SCHEDULED',
      rule_errors: verdict?.errors.length ? verdict.errors : null,
      payload: item.body.payload,
      metadata: item.body.metadata,
    }
  })
  const deliveries = claimDueDeliveries(toInsert, verdicts, now, config, sendNow.slots)
  // A direct request dated in the future is stored SCHEDULED: its deliveries wait for its date. A claimed
  // delivery is inserted as the worker's claim would leave it (claim-deliveries.ts): SENDING, first attempt,
  // leased to this instance; a parked recipient's wait PENDING whatever the slot.
  const { rows: inserted } = await sql<{ id: number; request_id: string | null; request_pk: number | null; recipient_id: number | null }>`${PREPARED}
    with inserted as (
      insert into notification_request
        (tenant, request_id, request_owner, request_date, not_before, priority, mode, state, rule_errors, payload, metadata)
      select ${tenant}, request_id, request_owner, request_date, not_before, priority, ${direct ? 'DIRECT' : 'RULES'}, state, rule_errors, payload, metadata
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as t(request_id text, request_owner text,
        request_date timestamptz, not_before timestamptz, priority int, state text, rule_errors jsonb, payload jsonb, metadata jsonb)
      on conflict (tenant, request_id) do nothing
      returning id, request_id, priority, request_date, not_before
    ), deliveries as (
      insert into delivery (tenant, request_pk, recipient_id, state, priority, request_date, next_attempt_at, attempts, claimed_by, lease_until)
      select ${tenant}, i.id, d.recipient_id, case when c.sending then 'SENDING' else 'PENDING' end, i.priority, i.request_date, i.not_before,
        case when c.sending then 1 else 0 end, case when c.sending then ${sendNow.instanceId}::uuid end,
        case when c.sending then now() + make_interval(secs => ${LEASE_SECONDS}) end
      from inserted i join rows from (jsonb_to_recordset(${JSON.stringify(deliveries)}::jsonb) as (request_id text, recipient_id bigint, claim boolean))
          with ordinality as d(request_id, recipient_id, claim, n)
        on d.request_id = i.request_id
        left join recipient_state s on s.recipient_id = d.recipient_id
        cross join lateral (select d.claim and not coalesce(s.parked, false) as sending) c
      -- Delivery ids in rule order: events list their recipients in that order, as REGARDS does.
      order by d.n
      returning id, request_pk, recipient_id, state
    )
    select id, request_id, null::bigint as request_pk, null::bigint as recipient_id from inserted
    union all
    select id, null, request_pk, recipient_id from deliveries where state = 'SENDING'`.execute(tx)
  const pkById = new Map<string, number>()
  const sendingRows: { id: number; request_pk: number; recipient_id: number }[] = []
  for (const row of inserted) {
    if (row.request_id !== null) pkById.set(row.request_id, row.id)
    else sendingRows.push({ id: row.id, request_pk: row.request_pk!, recipient_id: row.recipient_id! })
  }
  collectSending(tenant, toInsert, pkById, sendingRows, reg)
  toInsert.forEach((item, i) => {
    const pk = pkById.get(item.requestId)
    // Another instance registered the same id a moment ago: it is in progress there.
    if (pk === undefined) {
      reg.ignored.push({ requestId: item.requestId, reason: 'in-progress' })
      return
    }
    reg.granted++
    reg.events.push(
      notifierEvent({ tenant, requestId: item.requestId, requestOwner: item.requestOwner, state: direct ? 'TO_SCHEDULE_BY_RECIPIENT' : 'GRANTED', notificationDate: now }),
    )
    const verdict = verdicts[i]
    if (!verdict) return
    reg.deliveries += verdict.recipientIds.length
    if (verdict.errors.length > 0) {
      reg.ruleErrors.push(...verdict.errors)
      reg.events.push(ruleErrorEvent({ tenant, requestId: item.requestId, requestOwner: item.requestOwner, requestDate: item.requestDate }, verdict.errors))
    } else if (verdict.recipientIds.length === 0) {
      completeNow.push(pk)
    }
  })
}

/**
 * The new deliveries, in rule order, with those the worker lets this transaction claim: per recipient, the
 * first of the due ones in the order of the worker's claims (priority, then request date), as many as it
 * granted.
 */
function claimDueDeliveries(
  toInsert: (IncomingRequest & { body: RequestBody })[],
  verdicts: (RuleVerdict | undefined)[],
  now: Date,
  config: TenantConfig,
  slots: SendNow,
): NewDelivery[] {
  const deliveries: NewDelivery[] = []
  const dueByRecipient = new Map<number, { delivery: NewDelivery; item: IncomingRequest }[]>()
  toInsert.forEach((item, i) => {
    for (const recipient_id of verdicts[i]?.recipientIds ?? []) {
      const delivery = { request_id: item.requestId, recipient_id, claim: false }
      deliveries.push(delivery)
      if (item.requestDate > now) continue
      const due = dueByRecipient.get(recipient_id) ?? []
      due.push({ delivery, item })
      dueByRecipient.set(recipient_id, due)
    }
  })
  for (const [recipientId, due] of dueByRecipient) {
    const recipient = config.recipientsById.get(recipientId)
    const granted = recipient ? slots.take(recipient, due.length) : 0
    if (granted === 0) continue
    due.sort((a, b) => inClaimOrder(a.item, b.item))
    for (const { delivery } of due.slice(0, granted)) delivery.claim = true
  }
  return deliveries
}

/** The order of the worker's claims (claim-deliveries.ts): highest priority first, then the oldest request. */
function inClaimOrder(a: IncomingRequest, b: IncomingRequest): number {
  return b.priority - a.priority || a.requestDate.getTime() - b.requestDate.getTime()
}

/** The claimed deliveries as the sender takes them, built from the bodies in memory: no read back. */
function collectSending(
  tenant: string,
  toInsert: (IncomingRequest & { body: RequestBody })[],
  pkById: Map<string, number>,
  sendingRows: { id: number; request_pk: number; recipient_id: number }[],
  reg: Registration,
): void {
  if (sendingRows.length === 0) return
  const itemByPk = new Map(toInsert.map((item) => [pkById.get(item.requestId), item]))
  // In claim order within each recipient, as the worker's claim would hand them to the sender.
  sendingRows.sort((a, b) => inClaimOrder(itemByPk.get(a.request_pk)!, itemByPk.get(b.request_pk)!) || a.id - b.id)
  for (const row of sendingRows) {
    const item = itemByPk.get(row.request_pk)!
    const list = reg.sending.get(row.recipient_id) ?? []
    list.push({
      deliveryId: row.id,
      requestPk: row.request_pk,
      tenant,
      requestId: item.requestId,
      requestOwner: item.requestOwner,
      requestDate: item.requestDate,
      payload: item.body.payload,
      metadata: item.body.metadata,
      attempt: 1,
    })
    reg.sending.set(row.recipient_id, list)
  }
  reg.sentNow = sendingRows.length
}

/**
 * A known request id with errors: the new body (if any) replaces the stored one, recipients in error go
 * back to PENDING, and rule-based requests are matched again so newly matched recipients are added.
 * Recipients already in success are never notified twice.
 */
async function applyRetries(
  tx: Tx,
  tenant: string,
  retries: { row: LiveRow; body: RequestBody | undefined }[],
  direct: boolean,
  config: TenantConfig,
  reg: Registration,
  toMatch: RequestToMatch[],
  scheduledDirect: number[],
): Promise<void> {
  const updates: { id: number; state: string; payload: unknown; metadata: unknown }[] = []
  const addedDirect: { request_pk: number; recipient_id: number; priority: number; request_date: string }[] = []
  for (const { row, body } of retries) {
    const payload = body?.payload ?? row.payload
    const metadata = body?.metadata ?? row.metadata
    const requestOwner = row.request_owner ?? undefined
    if (row.mode === 'DIRECT' && direct && body?.recipients) {
      const problem = directRecipientProblem(body.recipients, config)
      if (problem) {
        reg.denied.push({ requestId: row.request_id, reason: problem })
        reg.events.push(notifierEvent({ tenant, requestId: row.request_id, requestOwner, state: 'DENIED', notificationDate: new Date(), errors: [problem] }))
        continue
      }
      for (const businessId of body.recipients) {
        addedDirect.push({ request_pk: row.id, recipient_id: config.recipientsByBusinessId.get(businessId)!.id, priority: row.priority, request_date: row.request_date.toISOString() })
      }
    }
    reg.retried++
    // REGARDS answers a retry with GRANTED dated with the original request date.
    reg.events.push(notifierEvent({ tenant, requestId: row.request_id, requestOwner, state: 'GRANTED', notificationDate: row.request_date }))
    if (row.mode === 'RULES') {
      updates.push({ id: row.id, state: 'GRANTED', payload, metadata })
      toMatch.push({ id: row.id, tenant, requestId: row.request_id, requestOwner, requestDate: row.request_date, priority: row.priority, payload, metadata })
    } else {
      updates.push({ id: row.id, state: 'SCHEDULED', payload, metadata })
      scheduledDirect.push(row.id)
    }
  }
  if (updates.length === 0) return
  const ids = updates.map((u) => u.id)
  await sql`update notification_request r set state = u.state, payload = u.payload, metadata = u.metadata,
      rule_errors = null, not_before = now(), updated_at = now()
    from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as u(id bigint, state text, payload jsonb, metadata jsonb)
    where r.id = u.id`.execute(tx)
  await sql`update delivery set state = 'PENDING', attempts = 0, next_attempt_at = now(), last_error = null, updated_at = now()
    where request_pk = any(${ids}::bigint[]) and state = 'ERROR'`.execute(tx)
  if (addedDirect.length > 0) {
    await sql`insert into delivery (tenant, request_pk, recipient_id, state, priority, request_date)
      select ${tenant}, request_pk, recipient_id, 'PENDING', priority, request_date
      from jsonb_to_recordset(${JSON.stringify(addedDirect)}::jsonb)
        as t(request_pk bigint, recipient_id bigint, priority int, request_date timestamptz)
      on conflict (request_pk, recipient_id) do nothing`.execute(tx)
  }
}

/** Direct recipients must exist, be active and accept direct notification (REGARDS validateRecipients). */
function directRecipientProblem(businessIds: string[], config: TenantConfig): string | undefined {
  for (const businessId of businessIds) {
    const recipient = config.recipientsByBusinessId.get(businessId)
    if (!recipient) return `recipient ${businessId} does not exist`
    if (!recipient.active) return `recipient ${businessId} is not active`
    if (!recipient.plugin) return `recipient ${businessId} uses unknown plugin ${recipient.pluginId}`
    if (!recipient.info.directNotificationEnabled) return `recipient ${businessId} does not enable direct notification`
  }
  return undefined
}
