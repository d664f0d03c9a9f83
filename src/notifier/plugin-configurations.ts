import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Db, Tx } from '../db/client.ts'
import {
  bumpConfigVersion,
  pluginKind,
  replaceAssociation,
  upsertPluginConfiguration,
  validatePluginConfiguration,
  type PluginConfigurationInput,
} from './config-import.ts'
import type { PluginParameter } from '../senders/sender.ts'
import { ERR_ALREADY_EXISTS, ERR_INVALID_CONFIGURATION, ERR_NOT_FOUND } from '../errors.ts'
import type { SecretBox } from '../secrets/secret-box.ts'
import { containsMask, keepStoredSecrets, maskSecrets } from '../secrets/mask-secrets.ts'
import { boundaryProblems } from '../senders/sender-context.ts'
import type { CrossTenantRules } from '../senders/tenant-boundary.ts'

/**
 * Rules and recipients are REGARDS plugin configurations of one tenant (table plugin_configuration, kind
 * RULE or RECIPIENT). Every change bumps the tenant's config_version, so every instance rebuilds its
 * rules and senders within a second (ConfigCache).
 */
export type Kind = 'RULE' | 'RECIPIENT'

export interface PluginRow {
  id: number
  business_id: string
  plugin_id: string
  kind: Kind
  label: string
  version: string
  priority_order: number
  active: boolean
  /** As stored: secret parts sealed (src/secrets). Shown masked; opened only where a clear value is needed. */
  parameters: PluginParameter[]
  updated_at: Date
}

export async function findPlugin(db: Db | Tx, tenant: string, kind: Kind, businessId: string): Promise<PluginRow | undefined> {
  const { rows } = await sql<PluginRow>`select id, business_id, plugin_id, kind, label, version, priority_order, active, parameters, updated_at
    from plugin_configuration where tenant = ${tenant} and business_id = ${businessId} and kind = ${kind}`.execute(db)
  return rows[0]
}

/** Every configuration of a kind, by businessId: a tenant has tens to hundreds, read at once. */
export async function listPlugins(db: Db, tenant: string, kind: Kind): Promise<PluginRow[]> {
  const { rows } = await sql<PluginRow>`select id, business_id, plugin_id, kind, label, version, priority_order, active, parameters, updated_at
    from plugin_configuration where tenant = ${tenant} and kind = ${kind} order by business_id`.execute(db)
  return rows
}

export interface PluginInput {
  pluginId: string
  label: string
  version?: string
  priorityOrder?: number
  active?: boolean
  /** A parameter without `value` has the value null (Gson omits null values). */
  parameters: (Omit<PluginParameter, 'value'> & { value?: unknown })[]
}

const kindName = (kind: Kind) => (kind === 'RULE' ? 'rule matcher' : 'recipient')

/** Throws 400 with every problem of the configuration, each naming it. */
function validate(kind: Kind, conf: PluginConfigurationInput, tenant: string, crossTenantPublish: CrossTenantRules): void {
  const actual = pluginKind(conf.pluginId)
  if (actual && actual !== kind) {
    throw ERR_INVALID_CONFIGURATION(`plugin ${conf.pluginId} is a ${kindName(actual)}, not a ${kindName(kind)}`, { errors: [`plugin ${conf.pluginId} is a ${kindName(actual)}`] })
  }
  const masked = containsMask(conf.parameters ?? [])
  const errors = [
    ...validatePluginConfiguration(conf),
    ...(kind === 'RECIPIENT' ? boundaryProblems(`plugin configuration ${conf.businessId} (${conf.pluginId})`, conf.parameters ?? [], tenant, crossTenantPublish) : []),
    ...(masked ? [`parameter ${masked} holds the secret mask but no secret is stored for it: send the secret itself`] : []),
  ]
  if (errors.length > 0) throw ERR_INVALID_CONFIGURATION(errors.join('; '), { errors })
}

/**
 * Creates (`existing` undefined) or replaces a configuration, keeping stored secrets the client sent back
 * masked, and for rules replaces the associated recipients. Returns the stored row.
 */
export async function savePlugin(
  db: Db,
  secrets: SecretBox,
  tenant: string,
  kind: Kind,
  businessId: string | undefined,
  input: PluginInput,
  mode: 'create' | 'update',
  recipients?: string[],
  /** HERALD_ALLOW_CROSS_TENANT_PUBLISH of the instance; unset: the recipient publishes as its own tenant only. */
  crossTenantPublish: CrossTenantRules = [],
): Promise<PluginRow> {
  // Gson omits null values: a parameter without `value` is a parameter whose value is null.
  const parameters: PluginParameter[] = Array.isArray(input.parameters) ? input.parameters.map((p) => ({ ...p, value: p.value ?? null })) : input.parameters
  return db.transaction().execute(async (tx) => {
    const id = businessId ?? randomUUID()
    const { rows: existingRows } = await sql<PluginRow>`select id, kind, plugin_id, parameters, active, version, priority_order from plugin_configuration
      where tenant = ${tenant} and business_id = ${id} for update`.execute(tx)
    const existing = existingRows[0]
    if (mode === 'create' && existing) throw ERR_ALREADY_EXISTS(`${existing.kind === 'RULE' ? 'a rule' : 'a recipient'} with businessId ${id} already exists`)
    if (mode === 'update' && (!existing || existing.kind !== kind)) throw ERR_NOT_FOUND(`no ${kindName(kind)} ${id}`)
    const conf: PluginConfigurationInput = {
      pluginId: input.pluginId,
      businessId: id,
      label: input.label,
      version: input.version ?? existing?.version,
      priorityOrder: input.priorityOrder ?? existing?.priority_order,
      active: input.active ?? existing?.active ?? true,
      parameters: existing ? keepStoredSecrets(secrets, { tenant, businessId: id, pluginId: existing.plugin_id }, parameters, existing.parameters) : parameters,
    }
    validate(kind, conf, tenant, crossTenantPublish)
    const errors: string[] = []
    await upsertPluginConfiguration(tx, secrets, tenant, conf, errors)
    if (kind === 'RULE' && recipients) await replaceAssociation(tx, tenant, id, recipients, errors)
    if (errors.length > 0) throw ERR_INVALID_CONFIGURATION(errors.join('; '), { errors })
    await bumpConfigVersion(tx, tenant)
    return (await findPlugin(tx, tenant, kind, id))!
  })
}

export async function setPluginActive(db: Db, tenant: string, kind: Kind, businessId: string, active: boolean): Promise<PluginRow> {
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ id: number }>`update plugin_configuration set active = ${active},
        updated_at = case when active = ${active} then updated_at else now() end
      where tenant = ${tenant} and business_id = ${businessId} and kind = ${kind} returning id`.execute(tx)
    if (rows.length === 0) throw ERR_NOT_FOUND(`no ${kindName(kind)} ${businessId}`)
    await bumpConfigVersion(tx, tenant)
    return (await findPlugin(tx, tenant, kind, businessId))!
  })
}

/** The recipients (businessIds) associated with each rule. */
export async function ruleRecipients(db: Db, tenant: string, ruleIds: number[]): Promise<Map<number, string[]>> {
  const map = new Map<number, string[]>()
  if (ruleIds.length === 0) return map
  const { rows } = await sql<{ rule_id: number; business_id: string }>`select rr.rule_id, c.business_id
    from rule_recipient rr join plugin_configuration c on c.id = rr.recipient_id
    where c.tenant = ${tenant} and rr.rule_id = any(${ruleIds}::bigint[]) order by c.business_id`.execute(db)
  for (const row of rows) map.set(row.rule_id, [...(map.get(row.rule_id) ?? []), row.business_id])
  return map
}

/** What operators see of every plugin configuration, rule or recipient (parameters with secrets masked). */
export interface ConfigurationView {
  businessId: string
  pluginId: string
  label: string
  version: string
  priorityOrder: number
  active: boolean
  parameters: PluginParameter[]
  updatedAt: Date
}

/** The first members of a configuration's view (its kind's own members come next, then its parameters). */
export const configurationIdentity = (row: PluginRow) => ({
  businessId: row.business_id,
  pluginId: row.plugin_id,
  label: row.label,
  version: row.version,
  priorityOrder: row.priority_order,
  active: row.active,
})

/** A rule as operators see it: its matcher configuration, secrets masked, and the recipients it sends to. */
export interface Rule extends ConfigurationView {
  /** businessIds of the recipients a matching product goes to. */
  recipients: string[]
}

/** The rules of these rows, with their recipients (one query for all of them). */
export async function describeRules(db: Db, tenant: string, rows: PluginRow[]): Promise<Rule[]> {
  const recipients = await ruleRecipients(db, tenant, rows.map((r) => r.id))
  return rows.map((row) => ({
    ...configurationIdentity(row),
    parameters: maskSecrets(row.plugin_id, row.parameters),
    recipients: recipients.get(row.id) ?? [],
    updatedAt: row.updated_at,
  }))
}

export async function deleteRule(db: Db, tenant: string, businessId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const { rows } = await sql`delete from plugin_configuration where tenant = ${tenant} and business_id = ${businessId} and kind = 'RULE'
      returning id`.execute(tx)
    if (rows.length === 0) throw ERR_NOT_FOUND(`no rule matcher ${businessId}`)
    await bumpConfigVersion(tx, tenant)
  })
}
