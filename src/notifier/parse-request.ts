import type { AsyncMessage } from 'rabbitmq-client'
import {
  HEADER_REQUEST_DATE,
  HEADER_REQUEST_ID,
  HEADER_REQUEST_OWNER,
  HEADER_TENANT,
  MAX_REQUEST_ID_LENGTH,
  MAX_REQUEST_OWNER_LENGTH,
  headerString,
  parseRequestDate,
} from '../amqp/envelope.ts'

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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface ParseOptions {
  direct: boolean
  tenants: ReadonlySet<string> | undefined
  maxMessageBytes: number
  now: Date
}

/** Reads headers and body as REGARDS defines them, with Herald's answers for bad input. */
export function parseRequestMessage(msg: AsyncMessage, opts: ParseOptions): ParsedMessage {
  const headers = msg.headers
  const tenant = headerString(headers, HEADER_TENANT)?.trim()
  if (!tenant) return { kind: 'dead-letter', reason: 'missing header regards.tenant' }
  if (opts.tenants && !opts.tenants.has(tenant)) return { kind: 'unknown-tenant', tenant }
  const requestId = headerString(headers, HEADER_REQUEST_ID)
  if (requestId === undefined || requestId.trim() === '') {
    return { kind: 'dead-letter', reason: 'missing header regards.request.id: no way to answer the request' }
  }
  const requestOwner = headerString(headers, HEADER_REQUEST_OWNER)
  const deny = (reason: string): ParsedMessage => ({ kind: 'denied', tenant, requestId, requestOwner, reason })
  if (requestId.length > MAX_REQUEST_ID_LENGTH) {
    return deny(`header regards.request.id is ${requestId.length} characters long, at most ${MAX_REQUEST_ID_LENGTH} are allowed`)
  }
  if (requestOwner !== undefined && requestOwner.length > MAX_REQUEST_OWNER_LENGTH) {
    return deny(`header regards.request.owner is ${requestOwner.length} characters long, at most ${MAX_REQUEST_OWNER_LENGTH} are allowed`)
  }
  const dateHeader = headerString(headers, HEADER_REQUEST_DATE)
  let requestDate = opts.now
  if (dateHeader !== undefined && dateHeader.trim() !== '') {
    const parsed = parseRequestDate(dateHeader)
    if (!parsed) return deny(`header regards.request.date "${dateHeader.slice(0, 64)}" is not an ISO-8601 date-time`)
    requestDate = parsed
  }
  const { body, bodyError } = parseBody(msg.body, opts)
  return {
    kind: 'request',
    tenant,
    requestId,
    requestOwner,
    requestDate,
    priority: msg.priority ?? 0,
    redelivered: msg.redelivered,
    body,
    bodyError,
  }
}

function parseBody(raw: unknown, opts: ParseOptions): { body: RequestBody | undefined; bodyError: string | undefined } {
  let value: unknown = raw
  if (Buffer.isBuffer(raw) || typeof raw === 'string') {
    const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
    if (bytes === 0) return { body: undefined, bodyError: undefined }
    if (bytes > opts.maxMessageBytes) {
      return { body: undefined, bodyError: `body is ${bytes} bytes, more than the ${opts.maxMessageBytes} bytes accepted` }
    }
    let text: string
    try {
      text = typeof raw === 'string' ? raw : utf8.decode(raw)
    } catch {
      return { body: undefined, bodyError: 'body is not valid UTF-8' }
    }
    try {
      value = JSON.parse(text)
    } catch (err) {
      return { body: undefined, bodyError: `body is not JSON: ${(err as Error).message}` }
    }
  } else if (Buffer.byteLength(JSON.stringify(raw) ?? '') > opts.maxMessageBytes) {
    // The AMQP client decodes an application/json body itself: the limit holds for it as well.
    return { body: undefined, bodyError: `body is more than the ${opts.maxMessageBytes} bytes accepted` }
  }
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
