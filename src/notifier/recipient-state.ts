import { sql, type RawBuilder } from 'kysely'
import { PREPARED, type Db, type Tx } from '../db/client.ts'

export interface ParkState {
  parked: boolean
  nextProbeAt: Date | null
}

/**
 * Successes reset their recipients' counts of consecutive failed attempts: a statement for the caller to
 * run inside the one that records the batches (a CTE), so a batch that went well costs no statement of
 * its own. Only the counts above zero are written (and locked).
 */
export function resetFailures(recipientIds: number[]): RawBuilder<unknown> {
  return sql`update recipient_state set consecutive_failures = 0, updated_at = now()
    where recipient_id = any(${recipientIds}::bigint[]) and consecutive_failures > 0`
}

/** A batch whose successes reset the count ({@link resetFailures}) instead of its failures adding to it. */
export const resetsFailures = (outcome: { succeeded: number; parkNow: boolean }) => outcome.succeeded > 0 && !outcome.parkNow

/**
 * Counts the failures of a sent batch that does not {@link resetsFailures} for its recipient: they add to the count
 * of consecutive failed attempts. Parks the recipient when the count reaches `parkAfterFailures` or a sender
 * said the recipient itself is unusable (rejected credentials). `parkedNow`: this call parked it;
 * `parked`: the recipient is parked, by this call or by a batch recorded since this one was claimed (two
 * batches of one recipient are in flight at once, so the second must not use up attempts either).
 */
export async function countOutcome(
  tx: Db | Tx,
  recipient: { id: number; tenant: string },
  outcome: { succeeded: number; failed: number; parkNow: boolean; reason: string | undefined },
  policy: { parkAfterFailures: number; probeIntervalMs: number },
): Promise<{ parkedNow: boolean; parked: boolean }> {
  if (outcome.failed === 0) return { parkedNow: false, parked: false }
  const { rows } = await sql<{ parked_now: boolean; parked: boolean }>`${PREPARED}
    insert into recipient_state as s (recipient_id, tenant, consecutive_failures)
    values (${recipient.id}, ${recipient.tenant}, ${outcome.failed})
    on conflict (recipient_id) do update set consecutive_failures = s.consecutive_failures + ${outcome.failed}, updated_at = now()
    returning (not s.parked and (${outcome.parkNow} or s.consecutive_failures >= ${policy.parkAfterFailures})) as parked_now, s.parked`.execute(tx)
  if (!rows[0]?.parked_now) return { parkedNow: false, parked: rows[0]?.parked ?? false }
  await sql`update recipient_state set parked = true, parked_at = now(), parked_by = 'policy',
      parked_reason = ${outcome.reason ?? 'consecutive failures'},
      next_probe_at = now() + make_interval(secs => ${policy.probeIntervalMs / 1000})
    where recipient_id = ${recipient.id}`.execute(tx)
  return { parkedNow: true, parked: true }
}

/** A probe failed: the recipient stays parked and is probed again later. */
export async function postponeProbe(tx: Db | Tx, recipientId: number, probeIntervalMs: number, reason: string | undefined): Promise<void> {
  await sql`update recipient_state set next_probe_at = now() + make_interval(secs => ${probeIntervalMs / 1000}),
      parked_reason = coalesce(${reason ?? null}, parked_reason), updated_at = now()
    where recipient_id = ${recipientId}`.execute(tx)
}

/** Parks a recipient by hand: its deliveries wait until {@link unparkRecipient}. */
export async function parkRecipient(db: Db | Tx, recipient: { id: number; tenant: string }, reason: string): Promise<void> {
  await sql`insert into recipient_state as s (recipient_id, tenant, parked, parked_at, parked_reason, parked_by)
    values (${recipient.id}, ${recipient.tenant}, true, now(), ${reason}, 'operator')
    on conflict (recipient_id) do update set parked = true, parked_at = now(), parked_reason = ${reason},
      parked_by = 'operator', next_probe_at = null, updated_at = now()`.execute(db)
}

/** Un-parks a recipient (a successful probe, or an operator): its backlog drains at once. */
export async function unparkRecipient(db: Db | Tx, recipientId: number): Promise<boolean> {
  const result = await sql`update recipient_state set parked = false, parked_at = null, parked_reason = null,
      parked_by = null, next_probe_at = null, consecutive_failures = 0, updated_at = now()
    where recipient_id = ${recipientId} and parked`.execute(db)
  return Number(result.numAffectedRows ?? 0) > 0
}
