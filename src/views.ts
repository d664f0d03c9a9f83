/**
 * What the operations answer about recipients and the audit trail, as types with no imports: the server
 * builds them, and the console (src/console, compiled without Node types) reads them as the JSON the API
 * sends, through its `AsJson<T>` (each Date an ISO-8601 string).
 */

/** What a recipient is doing now, from its delivery rows. */
export interface RecipientState {
  /** Deliveries waiting to be sent (PENDING, retries included). */
  backlog: number
  /** Deliveries claimed by a worker right now. */
  sending: number
  /** Deliveries that exhausted their policy and wait for a manual retry. */
  errors: number
  /** Seconds since the request date of the oldest waiting delivery (0 when none waits). */
  oldestWaitingSeconds: number
  /** The most recent failure still recorded on a delivery of this recipient. */
  lastError: { message: string; at: string } | null
  /** Parked (after consecutive failures, or by an operator): its deliveries wait, nothing is dropped. */
  parked: boolean
  parkedReason: string | null
}

/** One entry of a tenant's audit trail: who did what, on what, and how it ended (src/ops/audit.ts). */
export interface AuditEntry {
  /** Orders the trail and pages it; GET /audit leaves it out. */
  id: number
  tenant: string
  at: Date
  subject: string | null
  role: string
  action: string
  target: string | null
  /** `ok`, or the catalogue code of the refusal (`HERALD_ERR_RECIPIENT_BUSY`), or `HERALD_ERR_INTERNAL`. */
  outcome: string
  detail: string | null
}
