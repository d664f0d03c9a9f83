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
import { FEM_ERRORS } from './feature-request-event.ts'

/**
 * A FEM request message (creation, patch, deletion, notification) after the envelope was read: the four
 * REGARDS headers and a JSON body, with Herald's answers for bad input.
 */
export type FemEnvelope =
  /** No tenant: nobody to answer (the response needs `regards.tenant`): dead-letter queue, log, metric. */
  | { kind: 'dead-letter'; reason: string }
  /** Tenant not served by this Herald (HERALD_TENANTS): acked and ignored. */
  | { kind: 'unknown-tenant'; tenant: string }
  /** Answered DENIED; `requestId` is undefined when the header is missing (REGARDS answers without it). */
  | { kind: 'denied'; tenant: string; requestId: string | undefined; requestOwner: string | undefined; errors: string[] }
  | {
      kind: 'request'
      tenant: string
      requestId: string
      requestOwner: string
      requestDate: Date
      redelivered: boolean
      headers: Record<string, unknown>
      body: Record<string, unknown>
    }

export interface FemParseOptions {
  tenants: ReadonlySet<string> | undefined
  maxMessageBytes: number
  now: Date
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Reads the headers and the JSON body of a FEM request; every problem found is reported, not just the first. */
export function parseFemEnvelope(msg: AsyncMessage, opts: FemParseOptions): FemEnvelope {
  const headers = msg.headers ?? {}
  const tenant = headerString(headers, HEADER_TENANT)?.trim()
  if (!tenant) return { kind: 'dead-letter', reason: 'missing header regards.tenant: no tenant to answer to' }
  if (opts.tenants && !opts.tenants.has(tenant)) return { kind: 'unknown-tenant', tenant }

  const errors: string[] = []
  const rawId = headerString(headers, HEADER_REQUEST_ID)
  let requestId: string | undefined = rawId?.trim() ? rawId : undefined
  if (requestId === undefined) errors.push(FEM_ERRORS.missingRequestId)
  else if (requestId.length > MAX_REQUEST_ID_LENGTH) {
    errors.push(`header regards.request.id is ${requestId.length} characters long, at most ${MAX_REQUEST_ID_LENGTH} are allowed`)
    // Answering with a 40-character id would not fit REGARDS' own column: the client gets its prefix back.
    requestId = requestId.slice(0, MAX_REQUEST_ID_LENGTH)
  }
  const rawOwner = headerString(headers, HEADER_REQUEST_OWNER)
  const requestOwner = rawOwner?.trim() ? rawOwner : undefined
  if (requestOwner === undefined) errors.push(FEM_ERRORS.missingRequestOwner)
  else if (requestOwner.length > MAX_REQUEST_OWNER_LENGTH) {
    errors.push(`header regards.request.owner is ${requestOwner.length} characters long, at most ${MAX_REQUEST_OWNER_LENGTH} are allowed`)
  }
  // The seeds mark the date optional: without it the request is due at once.
  let requestDate = opts.now
  const dateHeader = headerString(headers, HEADER_REQUEST_DATE)
  if (dateHeader !== undefined && dateHeader.trim() !== '') {
    const parsed = parseRequestDate(dateHeader)
    if (parsed) requestDate = parsed
    else errors.push(`header regards.request.date "${dateHeader.slice(0, 64)}" is not an ISO-8601 date-time`)
  }
  const body = parseJsonObject(msg.body, opts.maxMessageBytes)
  if ('error' in body) errors.push(body.error)
  if (errors.length > 0) return { kind: 'denied', tenant, requestId, requestOwner, errors }
  return {
    kind: 'request',
    tenant,
    requestId: requestId!,
    requestOwner: requestOwner!,
    requestDate,
    redelivered: msg.redelivered,
    headers,
    body: (body as { value: Record<string, unknown> }).value,
  }
}

/** The message body as a JSON object, or why it is not one. */
export function parseJsonObject(raw: unknown, maxBytes: number): { value: Record<string, unknown> } | { error: string } {
  let value: unknown = raw
  if (Buffer.isBuffer(raw) || typeof raw === 'string') {
    const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
    if (bytes === 0) return { error: 'body is empty: a JSON object is expected' }
    if (bytes > maxBytes) return { error: `body is ${bytes} bytes, more than the ${maxBytes} bytes accepted` }
    let text: string
    try {
      text = typeof raw === 'string' ? raw : utf8.decode(raw)
    } catch {
      return { error: 'body is not valid UTF-8' }
    }
    try {
      value = JSON.parse(text)
    } catch (err) {
      return { error: `body is not JSON: ${(err as Error).message}` }
    }
  }
  if (!isObject(value)) return { error: 'body must be a JSON object' }
  return { value }
}

/** `priority` of a FEM body: HIGH, NORMAL or LOW; `fallback` when absent (undefined: mandatory). */
export function parsePriority(value: unknown, fallback: number | undefined): { priority: number } | { error: string } {
  if (value === undefined || value === null) {
    return fallback === undefined ? { error: 'priority is mandatory: HIGH, NORMAL or LOW' } : { priority: fallback }
  }
  if (value === 'HIGH') return { priority: 2 }
  if (value === 'NORMAL') return { priority: 1 }
  if (value === 'LOW') return { priority: 0 }
  return { error: `priority ${JSON.stringify(value).slice(0, 40)} is not one of HIGH, NORMAL, LOW` }
}
