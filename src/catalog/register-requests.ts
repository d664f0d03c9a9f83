import { sql } from 'kysely'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import type { Tx } from '../db/client.ts'
import { FEM_ERRORS, featureRequestEvent, type FeatureRequestType } from './feature-request-event.ts'
import type { RequestStep, RequestType } from './types.ts'

/** A request whose envelope and body are valid, before the checks against the catalog. */
export interface Candidate {
  requestId: string
  requestOwner: string
  requestDate: Date
  redelivered: boolean
  type: RequestType
  priority: number
  step: RequestStep
  urn?: string
  providerId?: string
  body?: unknown
  recipients?: string[]
  /** The product as it will be notified (a notification request snapshots it at registration). */
  toNotify?: unknown
  metadata?: unknown
}

/** A request refused before the database was involved. */
export interface Denial {
  denied: true
  requestId: string | undefined
  requestOwner: string | undefined
  urn?: string
  providerId?: string
  errors: string[]
}

/** Checks a tenant's candidates against the catalog; returns the errors of the refused ones by request id. */
export type CatalogCheck = (tx: Tx, tenant: string, candidates: Candidate[]) => Promise<Map<string, string[]>>

export interface Registration {
  events: OutboxEvent[]
  granted: Candidate[]
  denied: { requestId: string | undefined; errors: string[] }[]
  /** Redelivered copies of requests already registered: acked without a second answer. */
  ignored: string[]
}

/**
 * Registers one tenant's share of a batch in the caller's transaction (rs-fem `registerRequests`): request ids
 * must be unique among the stored requests of every type and inside the batch, the type's catalog checks must
 * pass; then the requests are stored in one statement and answered GRANTED, the others DENIED, each with the
 * reason. A message the broker redelivers after its request was stored is recognised and not answered twice.
 */
export async function registerRequests(
  tx: Tx,
  tenant: string,
  type: FeatureRequestType,
  items: (Candidate | Denial)[],
  check: CatalogCheck,
): Promise<Registration> {
  const reg: Registration = { events: [], granted: [], denied: [], ignored: [] }
  const deny = (item: { requestId: string | undefined; requestOwner: string | undefined; urn?: string; providerId?: string }, errors: string[]) => {
    reg.denied.push({ requestId: item.requestId, errors })
    reg.events.push(
      featureRequestEvent({
        tenant,
        type,
        requestId: item.requestId,
        requestOwner: item.requestOwner,
        id: type === 'NOTIFICATION' ? undefined : item.providerId,
        urn: item.urn,
        state: 'DENIED',
        errors,
      }),
    )
  }

  const candidates: Candidate[] = []
  const seen = new Set<string>()
  for (const item of items) {
    if ('denied' in item) deny(item, item.errors)
    else if (seen.has(item.requestId)) deny(item, [FEM_ERRORS.requestIdExists])
    else {
      seen.add(item.requestId)
      candidates.push(item)
    }
  }
  if (candidates.length === 0) return reg

  const { rows: stored } = await sql<{ request_id: string; type: string }>`select request_id, type from catalog_request
    where tenant = ${tenant} and request_id = any(${candidates.map((c) => c.requestId)}::text[])`.execute(tx)
  const storedIds = new Map(stored.map((r) => [r.request_id, r.type]))
  // A redelivered message whose request already succeeded (it left for the history) is the same message again.
  const redelivered = candidates.filter((c) => c.redelivered && !storedIds.has(c.requestId)).map((c) => c.requestId)
  const completed = new Set<string>()
  if (redelivered.length > 0) {
    const { rows } = await sql<{ request_id: string }>`select request_id from catalog_request_history
      where tenant = ${tenant} and request_id = any(${redelivered}::text[]) and type = ${type}`.execute(tx)
    for (const r of rows) completed.add(r.request_id)
  }
  const fresh: Candidate[] = []
  for (const c of candidates) {
    if (completed.has(c.requestId)) reg.ignored.push(c.requestId)
    else if (!storedIds.has(c.requestId)) fresh.push(c)
    // The same message again (its first delivery's ack was lost): already answered.
    else if (c.redelivered && storedIds.get(c.requestId) === c.type) reg.ignored.push(c.requestId)
    else deny(c, [FEM_ERRORS.requestIdExists])
  }

  const problems = fresh.length > 0 ? await check(tx, tenant, fresh) : new Map<string, string[]>()
  const accepted = fresh.filter((c) => {
    const errors = problems.get(c.requestId)
    if (errors && errors.length > 0) deny(c, errors)
    return !errors || errors.length === 0
  })
  if (accepted.length === 0) return reg

  const rows = accepted.map((c, ord) => ({
    ord,
    request_id: c.requestId,
    request_owner: c.requestOwner,
    type: c.type,
    step: c.step,
    priority: c.priority,
    request_date: c.requestDate.toISOString(),
    urn: c.urn ?? null,
    provider_id: c.providerId ?? null,
    body: c.body ?? null,
    recipients: c.recipients ?? null,
    to_notify: c.toNotify ?? null,
    metadata: c.metadata ?? null,
  }))
  const { rows: inserted } = await sql<{ request_id: string }>`
    insert into catalog_request (tenant, request_id, request_owner, type, state, step, priority, request_date, urn,
      provider_id, body, recipients, to_notify, metadata)
    select ${tenant}, request_id, request_owner, type, 'GRANTED', step, priority, request_date, urn, provider_id, body,
      recipients, to_notify, metadata
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as t(ord int, request_id text, request_owner text, type text,
      step text, priority int, request_date timestamptz, urn text, provider_id text, body jsonb, recipients jsonb,
      to_notify jsonb, metadata jsonb)
    order by ord
    on conflict (tenant, request_id) do nothing
    returning request_id`.execute(tx)
  const insertedIds = new Set(inserted.map((r) => r.request_id))
  for (const c of accepted) {
    // Another instance stored the same id a moment ago.
    if (!insertedIds.has(c.requestId)) {
      deny(c, [FEM_ERRORS.requestIdExists])
      continue
    }
    reg.granted.push(c)
    reg.events.push(
      featureRequestEvent({
        tenant,
        type,
        requestId: c.requestId,
        requestOwner: c.requestOwner,
        id: type === 'NOTIFICATION' ? undefined : c.providerId,
        urn: c.urn,
        state: 'GRANTED',
      }),
    )
  }
  return reg
}
