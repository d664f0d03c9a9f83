import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { SENDER_PLUGINS } from '../senders/registry.ts'
import { maskSecrets } from '../secrets/mask-secrets.ts'
import { parametersToMap, type RecipientInfo } from '../senders/sender.ts'
import type { RecipientState } from '../views.ts'
import { configurationIdentity, listPlugins, type ConfigurationView, type PluginRow } from './plugin-configurations.ts'

const EMPTY_STATE: RecipientState = { backlog: 0, sending: 0, errors: 0, oldestWaitingSeconds: 0, lastError: null, parked: false, parkedReason: null }

export async function recipientStates(db: Db, tenant: string, ids: number[]): Promise<Map<number, RecipientState>> {
  const states = new Map<number, RecipientState>()
  if (ids.length === 0) return states
  const { rows: counts } = await sql<{ recipient_id: number; backlog: number; sending: number; errors: number; oldest: number | null }>`
    select recipient_id,
      count(*) filter (where state = 'PENDING') as backlog,
      count(*) filter (where state = 'SENDING') as sending,
      count(*) filter (where state = 'ERROR') as errors,
      extract(epoch from now() - min(request_date) filter (where state = 'PENDING'))::float8 as oldest
    from delivery where tenant = ${tenant} and recipient_id = any(${ids}::bigint[]) and state <> 'SUCCESS'
    group by recipient_id`.execute(db)
  const { rows: errors } = await sql<{ recipient_id: number; last_error: string; updated_at: Date }>`
    select distinct on (recipient_id) recipient_id, last_error, updated_at
    from delivery where tenant = ${tenant} and recipient_id = any(${ids}::bigint[]) and last_error is not null
    order by recipient_id, updated_at desc`.execute(db)
  for (const row of counts) {
    states.set(row.recipient_id, {
      ...EMPTY_STATE,
      backlog: Number(row.backlog),
      sending: Number(row.sending),
      errors: Number(row.errors),
      oldestWaitingSeconds: Math.max(0, Math.round(Number(row.oldest ?? 0))),
    })
  }
  for (const row of errors) {
    const state = states.get(row.recipient_id) ?? { ...EMPTY_STATE }
    state.lastError = { message: row.last_error, at: row.updated_at.toISOString() }
    states.set(row.recipient_id, state)
  }
  for (const id of ids) if (!states.has(id)) states.set(id, { ...EMPTY_STATE })
  const { rows: parked } = await sql<{ recipient_id: number; parked_reason: string | null }>`
    select recipient_id, parked_reason from recipient_state
    where tenant = ${tenant} and recipient_id = any(${ids}::bigint[]) and parked`.execute(db)
  for (const row of parked) Object.assign(states.get(row.recipient_id)!, { parked: true, parkedReason: row.parked_reason })
  return states
}

/** How the plugin describes this configuration (REGARDS IRecipientNotifier getters). */
export function recipientInfo(row: PluginRow): RecipientInfo & { known: boolean } {
  const plugin = SENDER_PLUGINS.get(row.plugin_id)
  const info = plugin?.describe(parametersToMap(row.parameters))
  return info
    ? { ...info, known: true }
    : { recipientLabel: undefined, ackRequired: false, blockingRequired: false, directNotificationEnabled: false, description: '', known: false }
}

/** Recipients of a tenant, filtered as REGARDS `GET /recipients?directNotificationEnabled=` filters. */
export async function listRecipients(db: Db, tenant: string, filter: { directNotificationEnabled?: boolean; active?: boolean }): Promise<PluginRow[]> {
  const rows = await listPlugins(db, tenant, 'RECIPIENT')
  return rows.filter(
    (row) =>
      (filter.active === undefined || row.active === filter.active) &&
      (filter.directNotificationEnabled === undefined || recipientInfo(row).directNotificationEnabled === filter.directNotificationEnabled),
  )
}

/** A recipient as operators see it: its configuration (secrets masked), what its plugin says of it, its live state. */
export interface RecipientView extends ConfigurationView {
  recipientLabel: string | null
  description: string
  directNotificationEnabled: boolean
  ackRequired: boolean
  blockingRequired: boolean
  state: RecipientState
}

/** The views of `rows` (recipients of `tenant`), in their order, their states read at once. */
export async function viewRecipients(db: Db, tenant: string, rows: PluginRow[]): Promise<RecipientView[]> {
  const states = await recipientStates(db, tenant, rows.map((r) => r.id))
  return rows.map((row) => {
    const info = recipientInfo(row)
    return {
      ...configurationIdentity(row),
      recipientLabel: info.recipientLabel ?? null,
      description: info.description,
      directNotificationEnabled: info.directNotificationEnabled,
      ackRequired: info.ackRequired,
      blockingRequired: info.blockingRequired,
      parameters: maskSecrets(row.plugin_id, row.parameters),
      updatedAt: row.updated_at,
      state: states.get(row.id)!,
    }
  })
}
