import { sql, type RawBuilder } from 'kysely'
import { PREPARED, type Db, type Tx } from '../db/client.ts'
import type { DeliveryPolicy } from '../senders/policy.ts'
import type { SendResult } from '../senders/sender.ts'
import { countOutcome, postponeProbe, resetFailures, resetsFailures, unparkRecipient } from './recipient-state.ts'
import type { RecipientConfig } from './tenant-config.ts'

export interface SentItem {
  deliveryId: number
  requestPk: number
  attempt: number
  result: SendResult
}

export interface Recorded {
  /** Requests that had a delivery reach SUCCESS or ERROR: candidates for completion. */
  finalRequestPks: number[]
  sent: number
  retried: number
  failed: number
  /** This batch parked the recipient. */
  parked: boolean
  /** This batch was a probe of a parked recipient and it answered: un-parked. */
  unparked: boolean
}

/**
 * The rule for recording a sent delivery `d`: only the claim its batch holds, same instance and same
 * attempt (`attempt`, the column of the batch's rows). A claim taken back meanwhile (this instance looked
 * gone, or the lease expired) belongs to whoever holds it now, even if that is this instance again with a
 * newer attempt.
 */
export function holdsClaim(instanceId: string | null, attempt: string): RawBuilder<unknown> {
  return sql`d.state = 'SENDING' and d.claimed_by = ${instanceId}::uuid and d.attempts = ${sql.ref(attempt)}`
}

/** Batches of one tenant that went well, every delivery a success: see {@link recordSuccesses}. */
export interface Successes {
  /** Only this instance's claims are recorded, as in {@link recordResults}. */
  instanceId: string
  deliveries: Pick<SentItem, 'deliveryId' | 'requestPk' | 'attempt'>[]
  /** Their recipients: each one's count of consecutive failures is reset (by completeRequests). */
  recipientIds: number[]
}

/**
 * Records batches that went well (not probes) inside the completion's transaction of their requests
 * (completeRequests), not in one of their own: a statement in a transaction that runs anyway, not a
 * statement and a commit per recipient's batch, and none at all for the requests the completion moves to
 * the history. The caller holds the requests' locks. Returns the deliveries recorded: those whose claim
 * this instance still holds.
 */
export async function recordSuccesses(tx: Tx, successes: Pick<Successes, 'instanceId' | 'deliveries'>): Promise<number[]> {
  const rows = successes.deliveries.map(({ deliveryId, attempt }) => ({ id: deliveryId, attempt }))
  const { rows: updated } = await sql<{ id: number }>`${PREPARED}
    update delivery d set state = 'SUCCESS', last_error = null, lease_until = null, claimed_by = null, updated_at = now(), sent_at = now()
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(id bigint, attempt int)
    where d.id = x.id and ${holdsClaim(successes.instanceId, 'x.attempt')}
    returning d.id`.execute(tx)
  return updated.map((u) => u.id)
}

/**
 * Records a sent batch atomically, when the completion did not take it (RequestCompleter.record):
 * successes; failures retried after a backoff computed in SQL; failures that exhausted the policy; the
 * reason of every failed attempt; and the recipient's run of failures (which may park it). Completing the
 * requests is the RequestCompleter's, after the commit.
 *
 * While a recipient is parked (or this batch parks it), a failure is not the product's fault: the
 * delivery goes back to PENDING without using up an attempt, and waits for the recipient.
 */
export async function recordResults(
  db: Db,
  /** Only this instance's claims are recorded: a claim taken over meanwhile belongs to its new owner. */
  instanceId: string,
  items: SentItem[],
  policy: DeliveryPolicy,
  recipient: RecipientConfig,
  probe: boolean,
): Promise<Recorded> {
  if (items.length === 0) return { finalRequestPks: [], sent: 0, retried: 0, failed: 0, parked: false, unparked: false }
  const failures = items.filter((i) => !i.result.ok).map((i) => i.result as Extract<SendResult, { ok: false }>)
  // A batch of successes only, not a probe, is one statement (the update with its reset CTE): run
  // without a transaction around it, a BEGIN and a COMMIT round trip fewer.
  const record = async (tx: Db): Promise<Recorded> => {
    const succeeded = items.length - failures.length
    let parked = false
    let recipientParked = false
    let unparked = false
    const outcome = { succeeded, parkNow: failures.some((f) => f.parkRecipient) }
    const resets = !probe && resetsFailures(outcome)
    if (probe) {
      if (succeeded > 0) unparked = await unparkRecipient(tx, recipient.id)
      else await postponeProbe(tx, recipient.id, policy.probeIntervalMs, failures[0]?.message)
    } else if (!resets) {
      const counted = await countOutcome(tx, recipient, { ...outcome, failed: failures.length, reason: failures[0] && `${failures[0].errorClass}: ${failures[0].message}` }, policy)
      parked = counted.parkedNow
      recipientParked = counted.parked
    }
    const waitForRecipient = recipientParked || (probe && !unparked)
    const rows = items.map(({ deliveryId, attempt, result }) => {
      if (result.ok) return { id: deliveryId, attempt, state: 'SUCCESS', refund: 0, error: null, error_class: null, retry_after_ms: 0 }
      const waits = waitForRecipient && (!result.permanent || result.parkRecipient === true)
      const retry = waits || (!result.permanent && attempt < policy.maxAttempts)
      return {
        id: deliveryId,
        attempt,
        state: retry ? 'PENDING' : 'ERROR',
        refund: waits ? 1 : 0,
        error: result.message.slice(0, 2000),
        error_class: result.errorClass,
        retry_after_ms: result.retryAfterMs ?? 0,
      }
    })
    const { rows: updated } = await sql<{ id: number }>`${PREPARED}${resets ? sql`with reset as (${resetFailures([recipient.id])})` : sql``}
      update delivery d set state = x.state, last_error = x.error, lease_until = null, claimed_by = null, updated_at = now(),
        attempts = d.attempts - x.refund,
        sent_at = case when x.state = 'SUCCESS' then now() else d.sent_at end,
        next_attempt_at = now() + make_interval(secs => greatest(
          x.retry_after_ms,
          least(${policy.retryMaxDelayMs}::float8, ${policy.retryInitialDelayMs}::float8 * power(2, d.attempts - 1)) * (0.75 + random() * 0.5)
        ) / 1000.0)
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as x(id bigint, attempt int, state text, refund int, error text, error_class text, retry_after_ms float8)
      where d.id = x.id and ${holdsClaim(instanceId, 'x.attempt')}
      returning d.id`.execute(tx)
    const held = new Set(updated.map((u) => u.id))
    const recorded = rows.filter((r) => held.has(r.id))
    const failedRows = recorded.filter((r) => r.state !== 'SUCCESS')
    if (failedRows.length > 0) {
      await sql`${PREPARED}insert into delivery_attempt (tenant, delivery_id, attempt, outcome, error_class, message)
        select d.tenant, d.id, d.attempts + x.refund, x.state, x.error_class, x.error
        from jsonb_to_recordset(${JSON.stringify(failedRows)}::jsonb) as x(id bigint, state text, refund int, error text, error_class text)
        join delivery d on d.id = x.id`.execute(tx)
    }
    return {
      finalRequestPks: [...new Set(items.filter((item, i) => held.has(item.deliveryId) && rows[i].state !== 'PENDING').map((item) => item.requestPk))],
      sent: recorded.filter((r) => r.state === 'SUCCESS').length,
      retried: recorded.filter((r) => r.state === 'PENDING').length,
      failed: recorded.filter((r) => r.state === 'ERROR').length,
      parked,
      unparked,
    }
  }
  return failures.length === 0 && !probe ? record(db) : db.transaction().execute(record)
}
