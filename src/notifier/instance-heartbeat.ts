import os from 'node:os'
import { sql } from 'kysely'
import type { Ctx } from '../context.ts'

/** Every instance that claims deliveries beats this often… */
export const HEARTBEAT_MS = 5_000
/** …and one silent for this long (3 beats) is gone: its claimed deliveries go back to PENDING. */
export const SILENT_AFTER_SECONDS = 15

/** Records that this instance is alive. The first beat must come before its first claim. */
export async function beat(ctx: Ctx): Promise<void> {
  await sql`insert into herald_instance (id, host, pid) values (${ctx.instanceId}::uuid, ${os.hostname()}, ${process.pid})
    on conflict (id) do update set heartbeat_at = now()`.execute(ctx.db)
}

/** A clean stop: the instance's row goes, and whatever it still held is taken back at the next recovery. */
export async function leave(ctx: Ctx): Promise<void> {
  await sql`delete from herald_instance where id = ${ctx.instanceId}::uuid`.execute(ctx.db)
}

/** Instances silent for a day are forgotten (their claims were taken back long ago). */
export async function forgetSilentInstances(ctx: Ctx): Promise<void> {
  await sql`delete from herald_instance where heartbeat_at < now() - interval '1 day'`.execute(ctx.db)
}

export interface Heartbeat {
  /**
   * How long this instance has been beating on time without a break (0 after a failed, late or hung
   * beat): the others have had as long to beat too, so their silence means they are gone.
   */
  steadyForMs(): number
  stop(): void
}

/**
 * Beats every HEARTBEAT_MS on a timer of its own: nothing else delays it (a recovery waiting on row
 * locks, a busy maintenance tick), and it keeps beating while the worker drains at a clean stop.
 */
export function startHeartbeat(ctx: Ctx): Heartbeat {
  let steadySince: number | undefined = Date.now()
  let lastBeatAt = Date.now()
  let beating = false
  const timer = setInterval(async () => {
    if (beating) return
    beating = true
    const started = Date.now()
    try {
      await beat(ctx)
      // A beat that hung (a failover, a pool with no free connection) breaks the run like a failed one.
      const onTime = Date.now() - started < HEARTBEAT_MS && started - lastBeatAt < 2 * HEARTBEAT_MS
      steadySince = onTime ? (steadySince ?? started) : undefined
      lastBeatAt = Date.now()
    } catch (err) {
      steadySince = undefined
      ctx.log.warn({ err: String(err) }, 'heartbeat failed: other instances may take back this one\'s deliveries after 15 s')
    } finally {
      beating = false
    }
  }, HEARTBEAT_MS)
  return {
    steadyForMs: () => (steadySince === undefined ? 0 : Date.now() - steadySince),
    stop: () => clearInterval(timer),
  }
}
