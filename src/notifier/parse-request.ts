import type { AsyncMessage } from 'rabbitmq-client'
import { decodeJsonBody, isObject, readRequestHeaders } from '../amqp/request-envelope.ts'

/** The body of a NotificationRequestEvent (and of a SpecificRecipientNotificationRequestEvent). */
export interface RequestBody {
  payload: Record<string, unknown>
  metadata: Record<string, unknown>
  recipients?: string[]
}

/** A message read from the wire: what to do with it before the database is involved. */
export type ParsedMessage =
  /** No way to answer (no tenant, no request id): dead-letter queue, log, metric. */
  | { kind: 'dead-letter'; reason: string }
  /** Tenant not served by this Herald (HERALD_TENANTS): acked, logged, counted. */
  | { kind: 'unknown-tenant'; tenant: string }
  | { kind: 'denied'; tenant: string; requestId: string; requestOwner: string | undefined; reason: string }
  | {
      kind: 'request'
      tenant: string
      requestId: string
      requestOwner: string | undefined
      requestDate: Date
      priority: number
      redelivered: boolean
      /** Undefined when the body is empty (a retry "as stored" when the id is known) or unusable. */
      body: RequestBody | undefined
      /** Why a non-empty body is unusable. */
      bodyError: string | undefined
    }

export interface ParseOptions {
  direct: boolean
  tenants: ReadonlySet<string> | undefined
  maxMessageBytes: number
  now: Date
}

/** Reads headers and body as REGARDS defines them, with Herald's answers for bad input. */
export function parseRequestMessage(msg: AsyncMessage, opts: ParseOptions): ParsedMessage {
  const read = readRequestHeaders(msg.headers, opts.now)
  const { tenant, requestId, requestOwner } = read
  if (!tenant) return { kind: 'dead-letter', reason: 'missing header regards.tenant' }
  if (opts.tenants && !opts.tenants.has(tenant)) return { kind: 'unknown-tenant', tenant }
  if (requestId === undefined) {
    return { kind: 'dead-letter', reason: 'missing header regards.request.id: no way to answer the request' }
  }
  const headerError = read.requestIdError ?? read.requestOwnerError ?? read.requestDateError
  if (headerError) return { kind: 'denied', tenant, requestId, requestOwner, reason: headerError }
  const { body, bodyError } = parseBody(msg.body, opts)
  return {
    kind: 'request',
    tenant,
    requestId,
    requestOwner,
    requestDate: read.requestDate,
    priority: msg.priority ?? 0,
    redelivered: msg.redelivered,
    body,
    bodyError,
  }
}

function parseBody(raw: unknown, opts: ParseOptions): { body: RequestBody | undefined; bodyError: string | undefined } {
  const decoded = decodeJsonBody(raw, opts.maxMessageBytes)
  if ('empty' in decoded) return { body: undefined, bodyError: undefined }
  if ('error' in decoded) return { body: undefined, bodyError: decoded.error }
  const { value } = decoded
  if (!isObject(value)) return { body: undefined, bodyError: 'body must be a JSON object {"payload": {…}, "metadata": {…}}' }
  const { payload, metadata, recipients } = value
  if (payload === undefined || payload === null) return { body: undefined, bodyError: 'payload is mandatory' }
  if (!isObject(payload)) return { body: undefined, bodyError: 'payload must be a JSON object' }
  if (metadata !== undefined && metadata !== null && !isObject(metadata)) {
    return { body: undefined, bodyError: 'metadata must be a JSON object' }
  }
  const body: RequestBody = { payload, metadata: isObject(metadata) ? metadata : {} }
  if (opts.direct) {
    if (!Array.isArray(recipients) || recipients.length === 0) {
      return { body: undefined, bodyError: 'recipients must be a non-empty list of recipient business ids' }
    }
    if (!recipients.every((r) => typeof r === 'string' && r !== '')) {
      return { body: undefined, bodyError: 'recipients must contain recipient business ids (non-empty strings)' }
    }
    body.recipients = [...new Set(recipients as string[])]
  }
  return { body, bodyError: undefined }
}
