import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Db, Tx } from '../db/client.ts'
import { compileRule, RULE_PLUGIN_IDS } from '../rules/compile-rule.ts'
import { validatePolicy } from '../senders/policy.ts'
import { SENDER_PLUGINS } from '../senders/registry.ts'
import { parametersToMap, type PluginParameter } from '../senders/sender.ts'

export const PLUGIN_CONFIGURATION_KEY = 'fr.cnes.regards.framework.modules.plugins.domain.PluginConfiguration'
export const ASSOCIATION_KEY = 'fr.cnes.regards.modules.notifier.dto.conf.RuleRecipientsAssociation'

/** The REGARDS notifier import/export file (reference/regards-notifier.md §6.2). */
export interface NotifierConfigFile {
  microservice?: string
  modules: {
    module?: { id?: string; [key: string]: unknown }
    resetBeforeImport?: boolean
    configuration: { key: string; value: any }[]
  }[]
}

export interface PluginConfigurationInput {
  pluginId: string
  businessId?: string
  label: string
  version?: string
  priorityOrder?: number
  active?: boolean
  parameters?: PluginParameter[]
}

export class ConfigImportError extends Error {
  constructor(readonly errors: string[]) {
    super(`configuration not imported: ${errors.join('; ')}`)
  }
}

export interface ImportReport {
  plugins: number
  associations: number
  reset: boolean
}

const BUSINESS_ID = /^[0-9a-zA-Z_-]{1,36}$/

/** Whether a plugin id is a rule matcher or a recipient sender; undefined when Herald does not know it. */
export function pluginKind(pluginId: string): 'RULE' | 'RECIPIENT' | undefined {
  if (RULE_PLUGIN_IDS.includes(pluginId)) return 'RULE'
  if (SENDER_PLUGINS.has(pluginId)) return 'RECIPIENT'
  return undefined
}

/** Problems with one plugin configuration, each naming the configuration. */
export function validatePluginConfiguration(conf: PluginConfigurationInput): string[] {
  const name = `plugin configuration ${conf.businessId ?? conf.label ?? '(unnamed)'}`
  if (!conf || typeof conf !== 'object') return ['a PluginConfiguration value must be an object']
  if (typeof conf.pluginId !== 'string') return [`${name}: pluginId is mandatory`]
  const kind = pluginKind(conf.pluginId)
  if (!kind) return [`${name}: unknown plugin id ${conf.pluginId}`]
  const errors: string[] = []
  if (conf.businessId !== undefined && !BUSINESS_ID.test(conf.businessId)) {
    errors.push(`${name}: businessId must be 1 to 36 characters among [0-9a-zA-Z_-]`)
  }
  if (typeof conf.label !== 'string' || conf.label.trim() === '') errors.push(`${name}: label is mandatory`)
  if (conf.parameters !== undefined && !Array.isArray(conf.parameters)) errors.push(`${name}: parameters must be a list`)
  if (errors.length > 0) return errors
  const parameters = conf.parameters ?? []
  if (kind === 'RULE') {
    try {
      compileRule({ pluginId: conf.pluginId, businessId: conf.businessId, label: conf.label, parameters })
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message}`)
    }
  } else {
    const params = parametersToMap(parameters)
    for (const problem of [...SENDER_PLUGINS.get(conf.pluginId)!.validate(params), ...validatePolicy(params)]) {
      errors.push(`${name}: ${problem}`)
    }
  }
  return errors
}

/**
 * Imports a REGARDS notifier configuration for one tenant in one transaction: all of it, or nothing and
 * an error naming each bad entry. Re-importing the same file changes nothing (update by businessId).
 */
export async function importNotifierConfig(db: Db, tenant: string, file: NotifierConfigFile): Promise<ImportReport> {
  if (!file || !Array.isArray(file.modules)) throw new ConfigImportError(['the file must have a "modules" list'])
  const module = file.modules.find((m) => m?.module?.id === 'notifier') ?? (file.modules.length === 1 ? file.modules[0] : undefined)
  if (!module || !Array.isArray(module.configuration)) throw new ConfigImportError(['no "notifier" module with a "configuration" list in the file'])

  const plugins: PluginConfigurationInput[] = []
  const associations: { ruleId: string; recipientIds: string[] }[] = []
  const errors: string[] = []
  module.configuration.forEach((entry, i) => {
    if (entry?.key === PLUGIN_CONFIGURATION_KEY) {
      const conf = { ...entry.value, businessId: entry.value?.businessId ?? randomUUID() }
      errors.push(...validatePluginConfiguration(conf))
      plugins.push(conf)
    } else if (entry?.key === ASSOCIATION_KEY) {
      const v = entry.value
      if (typeof v?.ruleId !== 'string' || !Array.isArray(v?.recipientIds)) errors.push(`configuration[${i}]: an association needs ruleId and recipientIds`)
      else associations.push({ ruleId: v.ruleId, recipientIds: v.recipientIds.map(String) })
    } else {
      errors.push(`configuration[${i}]: unknown key ${JSON.stringify(entry?.key)}`)
    }
  })
  if (errors.length > 0) throw new ConfigImportError(errors)

  return db.transaction().execute(async (tx) => {
    const reset = module.resetBeforeImport === true
    if (reset) await resetTenantConfig(tx, tenant)
    for (const conf of plugins) await upsertPluginConfiguration(tx, tenant, conf, errors)
    for (const association of associations) await replaceAssociation(tx, tenant, association.ruleId, association.recipientIds, errors)
    if (errors.length > 0) throw new ConfigImportError(errors)
    await bumpConfigVersion(tx, tenant)
    return { plugins: plugins.length, associations: associations.length, reset }
  })
}

/** REGARDS resetConfiguration: deletes the tenant's requests, rules and recipients. */
export async function resetTenantConfig(tx: Tx, tenant: string): Promise<void> {
  await sql`delete from notification_request where tenant = ${tenant}`.execute(tx)
  await sql`delete from plugin_configuration where tenant = ${tenant}`.execute(tx)
}

export async function upsertPluginConfiguration(tx: Tx, tenant: string, conf: PluginConfigurationInput, errors: string[]): Promise<void> {
  const kind = pluginKind(conf.pluginId)!
  const { rows } = await sql<{ kind: string }>`
    insert into plugin_configuration (tenant, business_id, plugin_id, kind, label, version, priority_order, active, parameters)
    values (${tenant}, ${conf.businessId}, ${conf.pluginId}, ${kind}, ${conf.label}, ${conf.version ?? '1.0.0'},
      ${conf.priorityOrder ?? 0}, ${conf.active ?? true}, ${JSON.stringify(conf.parameters ?? [])}::jsonb)
    on conflict (tenant, business_id) do update set plugin_id = excluded.plugin_id, label = excluded.label,
      version = excluded.version, priority_order = excluded.priority_order, active = excluded.active,
      parameters = excluded.parameters,
      updated_at = case when plugin_configuration.parameters = excluded.parameters and plugin_configuration.label = excluded.label
        and plugin_configuration.active = excluded.active and plugin_configuration.plugin_id = excluded.plugin_id
        then plugin_configuration.updated_at else now() end
    returning (select kind from plugin_configuration p where p.tenant = ${tenant} and p.business_id = ${conf.businessId}) as kind`.execute(tx)
  const previousKind = rows[0]?.kind
  if (previousKind && previousKind !== kind) {
    errors.push(`plugin configuration ${conf.businessId}: it exists as a ${previousKind.toLowerCase()}, it cannot become a ${kind.toLowerCase()}`)
  }
}

export async function replaceAssociation(tx: Tx, tenant: string, ruleId: string, recipientIds: string[], errors: string[]): Promise<void> {
  const { rows } = await sql<{ id: number; business_id: string; kind: string }>`
    select id, business_id, kind from plugin_configuration
    where tenant = ${tenant} and business_id = any(${[ruleId, ...recipientIds]}::text[])`.execute(tx)
  const byId = new Map(rows.map((r) => [r.business_id, r]))
  const rule = byId.get(ruleId)
  if (!rule || rule.kind !== 'RULE') {
    errors.push(`Unknown RULE plugin business id ${ruleId} in rule/recipient association`)
    return
  }
  const recipients: number[] = []
  for (const recipientId of recipientIds) {
    const recipient = byId.get(recipientId)
    if (!recipient || recipient.kind !== 'RECIPIENT') errors.push(`Unknown RECIPIENT plugin business id ${recipientId} in association with RULE ${ruleId}`)
    else recipients.push(recipient.id)
  }
  await sql`insert into rule (plugin_configuration_id, tenant) values (${rule.id}, ${tenant}) on conflict do nothing`.execute(tx)
  await sql`delete from rule_recipient where rule_id = ${rule.id}`.execute(tx)
  if (recipients.length > 0) {
    await sql`insert into rule_recipient (rule_id, recipient_id)
      select ${rule.id}, unnest(${recipients}::bigint[])`.execute(tx)
  }
}

/** Every instance rebuilds the tenant's rules within a second of this (ConfigCache polls it). */
export async function bumpConfigVersion(tx: Tx, tenant: string): Promise<void> {
  await sql`insert into config_version (tenant, version) values (${tenant}, 1)
    on conflict (tenant) do update set version = config_version.version + 1`.execute(tx)
}
