import {
  HEADER_REQUEST_DATE,
  HEADER_REQUEST_ID,
  HEADER_REQUEST_OWNER,
  HEADER_TENANT,
  MAX_REQUEST_ID_LENGTH,
  MAX_REQUEST_OWNER_LENGTH,
  headerString,
  parseRequestDate,
} from './envelope.ts'

/**
 * The four REGARDS request headers of a message (notifier requests and FEM requests alike), with what is
 * wrong in each; what a wrong or missing header leads to (dead letter, DENIED) is the caller's rule.
 */
export interface RequestHeaders {
  /** Trimmed; undefined when missing or blank. */
  tenant: string | undefined
  /** As sent; undefined when missing or blank. */
  requestId: string | undefined
  /** As sent (a blank owner is kept: the notifier accepts it, the FEM refuses it). */
  requestOwner: string | undefined
  /** `now` when the header is missing, blank or unreadable. */
  requestDate: Date
  /** Why the id is too long (REGARDS' column holds 36 characters). */
  requestIdError: string | undefined
  /** Why the owner is too long (REGARDS' column holds 128 characters). */
  requestOwnerError: string | undefined
  /** Why the date is not an ISO-8601 date-time. */
  requestDateError: string | undefined
}

export function readRequestHeaders(headers: Record<string, unknown> | undefined, now: Date): RequestHeaders {
  const tenant = headerString(headers, HEADER_TENANT)?.trim() || undefined
  const rawId = headerString(headers, HEADER_REQUEST_ID)
  const requestId = rawId?.trim() ? rawId : undefined
  const requestOwner = headerString(headers, HEADER_REQUEST_OWNER)
  // The seeds mark the date optional: without it the request is due at once.
  let requestDate = now
  let requestDateError: string | undefined
  const dateHeader = headerString(headers, HEADER_REQUEST_DATE)
  if (dateHeader !== undefined && dateHeader.trim() !== '') {
    const parsed = parseRequestDate(dateHeader)
    if (parsed) requestDate = parsed
    else requestDateError = `header regards.request.date "${dateHeader.slice(0, 64)}" is not an ISO-8601 date-time`
  }
  return {
    tenant,
    requestId,
    requestOwner,
    requestDate,
    requestIdError:
      requestId !== undefined && requestId.length > MAX_REQUEST_ID_LENGTH
        ? `header regards.request.id is ${requestId.length} characters long, at most ${MAX_REQUEST_ID_LENGTH} are allowed`
        : undefined,
    requestOwnerError:
      requestOwner !== undefined && requestOwner.length > MAX_REQUEST_OWNER_LENGTH
        ? `header regards.request.owner is ${requestOwner.length} characters long, at most ${MAX_REQUEST_OWNER_LENGTH} are allowed`
        : undefined,
    requestDateError,
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A message body decoded as JSON, at most `maxBytes` long: `empty` for a body of no bytes (what it means
 * is the caller's rule), or why it cannot be read.
 */
export function decodeJsonBody(raw: unknown, maxBytes: number): { value: unknown } | { empty: true } | { error: string } {
  if (Buffer.isBuffer(raw) || typeof raw === 'string') {
    const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
    if (bytes === 0) return { empty: true }
    if (bytes > maxBytes) return { error: `body is ${bytes} bytes, more than the ${maxBytes} bytes accepted` }
    let text: string
    try {
      text = typeof raw === 'string' ? raw : utf8.decode(raw)
    } catch {
      return { error: 'body is not valid UTF-8' }
    }
    try {
      return { value: JSON.parse(text) }
    } catch (err) {
      return { error: `body is not JSON: ${(err as Error).message}` }
    }
  }
  // The AMQP client decodes an application/json body itself: the limit holds for it as well.
  if (Buffer.byteLength(JSON.stringify(raw) ?? '') > maxBytes) return { error: `body is more than the ${maxBytes} bytes accepted` }
  return { value: raw }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
