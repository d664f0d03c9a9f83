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
