import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import type { AuditEntry } from '../views.ts'
import { HeraldError } from '../errors.ts'
import type { OpsDeps } from './deps.ts'
import { authorize, type Access, type Principal } from './principal.ts'

/**
 * What an audited operation did: `action` names the operation (`recipients.park`), `target` what it acted on;
 * `access`, what the principal must be allowed: checked first, so that a refusal is recorded as well.
 */
export interface AuditSubject {
  action: string
  target?: string
  access?: Access
}

/**
 * Runs an operation that changes something and records who did it, on what, and how it ended. The entry is
 * written after the operation, in its own statement: a refused or failed operation is recorded too, and an
 * audit write that fails is logged without undoing a change already committed.
 */
export async function audited<T>(
  deps: OpsDeps,
  principal: Principal,
  subject: AuditSubject,
  operation: () => Promise<T>,
  /** What the entry of a success says (counts, what was done). */
  describe?: (result: T) => string | undefined,
): Promise<T> {
  let outcome = 'ok'
  let detail: string | undefined
  try {
    if (subject.access) authorize(principal, subject.access)
    const result = await operation()
    detail = describe?.(result)
    return result
  } catch (err) {
    outcome = err instanceof HeraldError ? err.code : 'HERALD_ERR_INTERNAL'
    detail = err instanceof Error ? err.message : String(err)
    throw err
  } finally {
    await recordAudit(deps.db, principal, subject, outcome, detail).catch((err: unknown) =>
      deps.log.error({ err, action: subject.action, target: subject.target }, 'could not record an audit entry'),
    )
  }
}

export async function recordAudit(db: Db, principal: Principal, subject: AuditSubject, outcome: string, detail?: string): Promise<void> {
  await sql`insert into audit_entry (tenant, subject, role, action, target, outcome, detail)
    values (${principal.tenant}, ${principal.subject ?? null}, ${principal.role}, ${subject.action}, ${subject.target ?? null}, ${outcome}, ${detail?.slice(0, 2000) ?? null})`.execute(db)
}

export interface AuditFilter {
  action?: string
  target?: string
  subject?: string
  outcome?: string
  /** Entries at or after this instant. */
  since?: Date
  /** Entries before this instant. */
  until?: Date
}

/** One page (`limit + 1` rows, for the caller to detect a next page) of the tenant's entries, newest first, below `beforeId`. */
export async function listAuditEntries(db: Db, tenant: string, filter: AuditFilter, limit: number, beforeId?: number): Promise<AuditEntry[]> {
  const { rows } = await sql<AuditEntry>`select id::int as id, tenant, at, subject, role, action, target, outcome, detail
    from audit_entry
    where tenant = ${tenant}
      ${beforeId !== undefined ? sql`and id < ${beforeId}` : sql``}
      ${filter.action !== undefined ? sql`and action = ${filter.action}` : sql``}
      ${filter.target !== undefined ? sql`and target = ${filter.target}` : sql``}
      ${filter.subject !== undefined ? sql`and subject = ${filter.subject}` : sql``}
      ${filter.outcome !== undefined ? sql`and outcome = ${filter.outcome}` : sql``}
      ${filter.since !== undefined ? sql`and at >= ${filter.since.toISOString()}::timestamptz` : sql``}
      ${filter.until !== undefined ? sql`and at < ${filter.until.toISOString()}::timestamptz` : sql``}
    order by id desc limit ${limit + 1}`.execute(db)
  return rows.map((r) => ({ ...r, at: new Date(r.at) }))
}
