import type { AsyncMessage } from 'rabbitmq-client'
import { MAX_REQUEST_ID_LENGTH } from '../amqp/envelope.ts'
import { decodeJsonBody, isObject, readRequestHeaders } from '../amqp/request-envelope.ts'
import { FEM_ERRORS } from './feature-request-event.ts'
import type { Candidate, Denial } from './register-requests.ts'
import { formatUrn, parseFeatureUrn } from './urn.ts'

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

export type FemRequest = Extract<FemEnvelope, { kind: 'request' }>

export interface FemParseOptions {
  tenants: ReadonlySet<string> | undefined
  maxMessageBytes: number
  now: Date
}

export { isObject }

/** Reads the headers and the JSON body of a FEM request; every problem found is reported, not just the first. */
export function parseFemEnvelope(msg: AsyncMessage, opts: FemParseOptions): FemEnvelope {
  const headers = msg.headers ?? {}
  const read = readRequestHeaders(headers, opts.now)
  const { tenant } = read
  if (!tenant) return { kind: 'dead-letter', reason: 'missing header regards.tenant: no tenant to answer to' }
  if (opts.tenants && !opts.tenants.has(tenant)) return { kind: 'unknown-tenant', tenant }

  const errors: string[] = []
  let { requestId } = read
  if (requestId === undefined) errors.push(FEM_ERRORS.missingRequestId)
  else if (read.requestIdError) {
    errors.push(read.requestIdError)
    // Answering with a 40-character id would not fit REGARDS' own column: the client gets its prefix back.
    requestId = requestId.slice(0, MAX_REQUEST_ID_LENGTH)
  }
  const requestOwner = read.requestOwner?.trim() ? read.requestOwner : undefined
  if (requestOwner === undefined) errors.push(FEM_ERRORS.missingRequestOwner)
  else if (read.requestOwnerError) errors.push(read.requestOwnerError)
  if (read.requestDateError) errors.push(read.requestDateError)
  const body = parseJsonObject(msg.body, opts.maxMessageBytes)
  if ('error' in body) errors.push(body.error)
  if (errors.length > 0) return { kind: 'denied', tenant, requestId, requestOwner, errors }
  return {
    kind: 'request',
    tenant,
    requestId: requestId!,
    requestOwner: requestOwner!,
    requestDate: read.requestDate,
    redelivered: msg.redelivered,
    headers,
    body: (body as { value: Record<string, unknown> }).value,
  }
}

/** The message body as a JSON object, or why it is not one. */
export function parseJsonObject(raw: unknown, maxBytes: number): { value: Record<string, unknown> } | { error: string } {
  const decoded = decodeJsonBody(raw, maxBytes)
  if ('error' in decoded) return decoded
  if ('empty' in decoded) return { error: 'body is empty: a JSON object is expected' }
  if (!isObject(decoded.value)) return { error: 'body must be a JSON object' }
  return { value: decoded.value }
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

/** A URN field of a FEM body in its canonical form; undefined when absent (an error if `mandatory`) or invalid. */
export function readFeatureUrn(value: unknown, field: string, mandatory: boolean, errors: string[]): string | undefined {
  if (value === undefined || value === null) {
    if (mandatory) errors.push(`${field} is mandatory`)
    return undefined
  }
  const parsed = parseFeatureUrn(value)
  if (parsed.ok) return formatUrn(parsed.urn)
  errors.push(`invalid ${field}: ${parsed.error}`)
  return undefined
}

/** The answer to a FEM request: DENIED with every error found in it, else the request to register. */
export function femAnswer(
  env: FemRequest,
  errors: string[],
  priority: { priority: number } | { error: string },
  request: Omit<Candidate, 'requestId' | 'requestOwner' | 'requestDate' | 'redelivered' | 'priority'>,
): Candidate | Denial {
  const { requestId, requestOwner } = env
  if (errors.length > 0 || 'error' in priority) {
    return { denied: true, requestId, requestOwner, urn: request.urn, providerId: request.providerId, errors }
  }
  return { requestId, requestOwner, requestDate: env.requestDate, redelivered: env.redelivered, priority: priority.priority, ...request }
}
