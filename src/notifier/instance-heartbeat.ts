import os from 'node:os'
import { sql } from 'kysely'
import type { Ctx } from '../context.ts'

/**
 * Every notifier instance beats every `config.heartbeatMs` (HERALD_HEARTBEAT_MS, default 1 s); one silent
 * for `config.heartbeatGraceMs` (HERALD_HEARTBEAT_GRACE_MS, default 3 s) is gone and its claimed deliveries
 * go back to PENDING at the others' next recovery pass (every beat): taken over within grace + one beat
 * (4 s by default) of its death.
 */

/** Records that this instance is alive. The first beat must come before its first claim. */
export async function beat(ctx: Ctx): Promise<void> {
  await sql`insert into herald_instance (id, host, pid) values (${ctx.instanceId}::uuid, ${os.hostname()}, ${process.pid})
    on conflict (id) do update set heartbeat_at = now()`.execute(ctx.db)
}

/**
 * A clean stop hands the instance's work back at once: its claims still held go back to PENDING (the
 * attempt they used is given back: they were not, or not known to be, sent) and its row goes, so no other
 * instance waits for the grace. Returns how many claims went back.
 */
export async function leave(ctx: Ctx): Promise<number> {
  const released = await ctx.db.transaction().execute(async (tx) => {
    const result = await sql`update delivery set state = 'PENDING', attempts = greatest(attempts - 1, 0), claimed_by = null,
        lease_until = null, next_attempt_at = now(), updated_at = now()
      where claimed_by = ${ctx.instanceId}::uuid and state = 'SENDING'`.execute(tx)
    await sql`delete from herald_instance where id = ${ctx.instanceId}::uuid`.execute(tx)
    return Number(result.numAffectedRows ?? 0)
  })
  if (released > 0) {
    ctx.log.info({ count: released }, 'stopping: handed claimed deliveries back to the other instances')
    ctx.signals.deliveries()
  }
  return released
}

/** Instances silent for a day are forgotten (their claims were taken back long ago). */
export async function forgetSilentInstances(ctx: Ctx): Promise<void> {
  await sql`delete from herald_instance where heartbeat_at < now() - interval '1 day'`.execute(ctx.db)
}

export interface Heartbeat {
  /**
   * How long this instance has been beating on time without a break (0 after a failed or late beat): the
   * others have had as long to beat too, so their silence means they are gone.
   */
  steadyForMs(): number
  stop(): void
}

/**
 * Beats on a timer of its own: nothing else delays it (a recovery waiting on row locks, a busy
 * maintenance tick), and it keeps beating while the worker drains at a clean stop.
 */
export function startHeartbeat(ctx: Ctx): Heartbeat {
  const { heartbeatMs, heartbeatGraceMs } = ctx.config
  let steadySince: number | undefined = Date.now()
  let lastBeatAt = Date.now()
  let beating = false
  const timer = setInterval(async () => {
    if (beating) return
    beating = true
    const started = Date.now()
    try {
      await beat(ctx)
      // A beat that came after the grace (a failover, a pool with no free connection, a stalled event
      // loop) may have let the others think this instance gone: that breaks the run like a failed one.
      const onTime = Date.now() - lastBeatAt < heartbeatGraceMs
      steadySince = onTime ? (steadySince ?? started) : undefined
      lastBeatAt = Date.now()
    } catch (err) {
      steadySince = undefined
      ctx.log.warn({ err, graceMs: heartbeatGraceMs }, 'heartbeat failed: other instances may take back this one\'s deliveries after the grace')
    } finally {
      beating = false
    }
  }, heartbeatMs)
  return {
    steadyForMs: () => (steadySince === undefined ? 0 : Date.now() - steadySince),
    stop: () => clearInterval(timer),
  }
}
