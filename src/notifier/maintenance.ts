import { sql } from 'kysely'
import { insertOutbox } from '../amqp/outbox-relay.ts'
import type { Ctx } from '../context.ts'
import { completeRequests, reportCompletion } from './complete-requests.ts'
import { forgetSilentInstances, type Heartbeat } from './instance-heartbeat.ts'
import { matchRequests } from './match-requests.ts'

const BATCH = 500

/**
 * Matches GRANTED requests that were not matched at intake: those dated in the future once their date has
 * come, and those re-queued after a configuration fix. Returns how many it matched.
 */
export async function matchDueRequests(ctx: Ctx): Promise<number> {
  const tenants = await sql<{ tenant: string }>`select distinct tenant from notification_request
    where state = 'GRANTED' and not_before <= now()`.execute(ctx.db)
  let total = 0
  for (const { tenant } of tenants.rows) {
    const config = await ctx.configCache.get(tenant)
    const outcome = await ctx.db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ id: number; request_id: string; request_owner: string | null; request_date: Date; priority: number; payload: Record<string, unknown>; metadata: Record<string, unknown> }>`
        select id, request_id, request_owner, request_date, priority, payload, metadata from notification_request
        where tenant = ${tenant} and state = 'GRANTED' and not_before <= now()
        order by priority desc, not_before, id limit ${BATCH} for update skip locked`.execute(tx)
      const matched = await matchRequests(
        tx,
        config,
        rows.map((r) => ({ id: r.id, tenant, requestId: r.request_id, requestOwner: r.request_owner ?? undefined, requestDate: r.request_date, priority: r.priority, payload: r.payload, metadata: r.metadata })),
      )
      const completion = await completeRequests(tx, matched.scheduled, config)
      await insertOutbox(tx, [...matched.events, ...completion.events])
      return { count: rows.length, matched, completion }
    })
    total += outcome.count
    if (outcome.matched.deliveries > 0) ctx.signals.deliveries()
    if (outcome.matched.events.length + outcome.completion.events.length > 0) ctx.signals.outbox()
    reportCompletion(ctx, tenant, outcome.completion)
    for (const e of outcome.matched.ruleErrors) ctx.events.safeEmit('request:rule-error', { tenant, rule: e.rule })
  }
  return total
}

/**
 * Deliveries claimed by an instance that is gone go back to PENDING (at-least-once): an instance that
 * stopped beating for the heartbeat grace (killed, its host lost) or left, and, whatever the instance,
 * a claim whose lease expired (a batch stuck for 120 s). Rows locked by a transaction in progress are
 * skipped, never waited for. Claims made before instances beat (claimed_by null) wait for their lease.
 */
export async function recoverAbandonedClaims(ctx: Ctx): Promise<number> {
  const result = await sql`update delivery set state = 'PENDING', lease_until = null, claimed_by = null, updated_at = now()
    where id in (
      select d.id from delivery d
      where d.lease_until is not null and d.state = 'SENDING'
        and (d.lease_until < now()
          or (d.claimed_by is not null and not exists (select 1 from herald_instance i
            where i.id = d.claimed_by and i.heartbeat_at > now() - make_interval(secs => ${ctx.config.heartbeatGraceMs / 1000}))))
      for update skip locked)`.execute(ctx.db)
  const count = Number(result.numAffectedRows ?? 0)
  if (count > 0) {
    ctx.log.warn({ count }, 'took back deliveries claimed by an instance that is gone (or whose claim expired)')
    ctx.signals.deliveries()
  }
  return count
}

// A SCHEDULED request with nothing left to deliver counts as stalled once it is this old: until then a
// completer may still be at work on it.
const STALLED_AFTER_MS = 5_000

/**
 * Completes SCHEDULED requests with nothing left to deliver that no worker completed (a crash between
 * commits, a deleted recipient). Normally finds nothing.
 */
export async function completeStalledRequests(ctx: Ctx): Promise<number> {
  const stalled = sql`r.state = 'SCHEDULED' and r.updated_at < now() - make_interval(secs => ${STALLED_AFTER_MS / 1000})
    and not exists (select 1 from delivery d where d.request_pk = r.id and d.state in ('PENDING', 'SENDING'))`
  const { rows: tenants } = await sql<{ tenant: string }>`select distinct r.tenant from notification_request r where ${stalled}`.execute(ctx.db)
  let completed = 0
  for (const { tenant } of tenants) {
    const config = await ctx.configCache.get(tenant)
    const completion = await ctx.db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ id: number }>`select r.id from notification_request r
        where r.tenant = ${tenant} and ${stalled} order by r.id limit ${BATCH} for update skip locked`.execute(tx)
      const result = await completeRequests(tx, rows.map((r) => r.id), config)
      await insertOutbox(tx, result.events)
      return result
    })
    if (completion.events.length > 0) ctx.signals.outbox()
    reportCompletion(ctx, tenant, completion)
    completed += completion.events.length
  }
  return completed
}

/** After a configuration change, requests waiting on a rule error are matched again. */
export async function rematchRuleErrors(ctx: Ctx, tenants: string[]): Promise<void> {
  await sql`update notification_request set state = 'GRANTED', not_before = now(), updated_at = now()
    where state = 'RULE_ERROR' and tenant = any(${tenants}::text[])`.execute(ctx.db)
}

/** Completed requests, audit entries and finished bulk retries are kept as long as each other: HERALD_HISTORY_RETENTION_DAYS. */
export async function purgeHistory(ctx: Ctx): Promise<void> {
  const days = ctx.config.historyRetentionDays
  await sql`delete from request_history where completed_at < now() - make_interval(days => ${days})`.execute(ctx.db)
  await sql`delete from audit_entry where at < now() - make_interval(days => ${days})`.execute(ctx.db)
  await sql`delete from retry_job where finished_at < now() - make_interval(days => ${days})`.execute(ctx.db)
}

/** Runs the periodic tasks; each one's failure is logged and retried on its next tick. */
export function startMaintenance(ctx: Ctx, heartbeat: Heartbeat): () => void {
  const timers: NodeJS.Timeout[] = []
  const every = (ms: number, name: string, task: () => Promise<unknown>) => {
    let running = false
    timers.push(
      setInterval(async () => {
        if (running) return
        running = true
        try {
          await task()
        } catch (err) {
          ctx.log.warn({ err, task: name }, 'maintenance task failed')
        } finally {
          running = false
        }
      }, ms),
    )
  }
  every(200, 'match-due', () => matchDueRequests(ctx))
  // An instance that is gone also left requests whose deliveries it had recorded but not yet completed:
  // complete them now rather than at the next 30 s pass, and once more when those it registered in its
  // last seconds count as stalled too (left to the 30 s pass, the chaos takeover run settled 15-17 s
  // after its last publish).
  let secondPassAt: number | undefined
  // Claims are taken back only while this instance has been beating steadily for the grace: after an
  // outage the others first get as long to beat again.
  every(ctx.config.heartbeatMs, 'recover-claims', async () => {
    if (heartbeat.steadyForMs() < ctx.config.heartbeatGraceMs) return
    if ((await recoverAbandonedClaims(ctx)) > 0) {
      await completeStalledRequests(ctx)
      secondPassAt = Date.now() + STALLED_AFTER_MS
    } else if (secondPassAt !== undefined && Date.now() >= secondPassAt) {
      secondPassAt = undefined
      await completeStalledRequests(ctx)
    }
  })
  // A safety net scanning every SCHEDULED request (100,000 when a parked recipient has a backlog): 30 s.
  every(30_000, 'complete-stalled', () => completeStalledRequests(ctx))
  every(3_600_000, 'purge-history', async () => {
    await purgeHistory(ctx)
    await forgetSilentInstances(ctx)
  })
  const rematch = (tenants: string[]) => {
    rematchRuleErrors(ctx, tenants).catch((err) => ctx.log.warn({ err }, 'rematch after configuration change failed'))
  }
  ctx.configCache.on('change', rematch)
  return () => {
    timers.forEach(clearInterval)
    ctx.configCache.off('change', rematch)
  }
}
