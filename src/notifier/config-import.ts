import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import { sql } from 'kysely'
import type { Db, Tx } from '../db/client.ts'
import { pluginKind, PLUGINS } from '../plugins/registry.ts'
import { checkParameters, type UnknownNames } from '../plugins/validate-parameters.ts'
import { compileRule } from '../rules/compile-rule.ts'
import type { SecretBox } from '../secrets/secret-box.ts'
import { inspectSecrets, openParameters, sealParameters } from '../secrets/secret-parameters.ts'
import { parametersToMap, type PluginParameter } from '../senders/sender.ts'
import { boundaryProblems } from '../senders/sender-context.ts'
import type { CrossTenantRules } from '../senders/tenant-boundary.ts'

export const PLUGIN_CONFIGURATION_KEY = 'fr.cnes.regards.framework.modules.plugins.domain.PluginConfiguration'
export const ASSOCIATION_KEY = 'fr.cnes.regards.modules.notifier.dto.conf.RuleRecipientsAssociation'

/** The REGARDS notifier import/export file. */
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
  /** Unknown parameter names dropped by a lenient import, each naming the entry. */
  warnings: string[]
}

export interface ImportOptions {
  /**
   * Unknown parameter names become warnings and are left out of what is stored, for files written for
   * other REGARDS versions. Wrong values and missing mandatory parameters are refused all the same.
   */
  lenient?: boolean
  /** HERALD_ALLOW_CROSS_TENANT_PUBLISH of the instance; unset: recipients publish as their own tenant only. */
  crossTenantPublish?: CrossTenantRules
}

export interface ConfigurationCheck {
  errors: string[]
  warnings: string[]
  /** The parameters to store: the given ones, less the unknown names a lenient check dropped. */
  parameters: PluginParameter[]
}

const BUSINESS_ID = /^[0-9a-zA-Z_-]{1,36}$/

export { pluginKind }

/** Problems with one plugin configuration, each naming the configuration (businessId) and the parameter. */
export function validatePluginConfiguration(conf: PluginConfigurationInput): string[] {
  return checkPluginConfiguration(conf, 'refuse').errors
}

/**
 * Checks one plugin configuration against its plugin's declaration: the entry itself (plugin id,
 * businessId, label, a list of named parameters, each at most once), then its parameters, then for a
 * rule matcher the rule expressions.
 */
export function checkPluginConfiguration(conf: PluginConfigurationInput, unknown: UnknownNames): ConfigurationCheck {
  if (!conf || typeof conf !== 'object') return { errors: ['a PluginConfiguration value must be an object'], warnings: [], parameters: [] }
  const name = `plugin configuration ${conf.businessId ?? conf.label ?? '(unnamed)'}`
  const refuse = (...errors: string[]): ConfigurationCheck => ({ errors, warnings: [], parameters: [] })
  if (typeof conf.pluginId !== 'string') return refuse(`${name}: pluginId is mandatory`)
  const declaration = PLUGINS.get(conf.pluginId)
  if (!declaration) return refuse(`${name}: unknown plugin id ${conf.pluginId} (herald plugins list shows the plugins)`)
  const where = `${name} (${conf.pluginId})`
  const errors: string[] = []
  if (conf.businessId !== undefined && !BUSINESS_ID.test(conf.businessId)) {
    errors.push(`${where}: businessId must be 1 to 36 characters among [0-9a-zA-Z_-]`)
  }
  if (typeof conf.label !== 'string' || conf.label.trim() === '') errors.push(`${where}: label is mandatory`)
  const list: unknown = conf.parameters ?? []
  if (!Array.isArray(list)) return refuse(...errors, `${where}: parameters must be a list`)
  const seen = new Set<string>()
  for (const [i, p] of list.entries()) {
    if (!p || typeof p !== 'object' || typeof p.name !== 'string' || p.name === '') errors.push(`${where}: parameter ${i + 1} needs a name`)
    else if (seen.has(p.name)) errors.push(`${where}: parameter ${p.name} is given twice`)
    else seen.add(p.name)
  }
  if (errors.length > 0) return refuse(...errors)
  const checked = checkParameters(declaration, parametersToMap(list), unknown)
  const known = declaration.parameters.properties as Record<string, unknown>
  const parameters = unknown === 'warn' ? (list as PluginParameter[]).filter((p) => Object.hasOwn(known, p.name)) : (list as PluginParameter[])
  errors.push(...checked.errors.map((e) => `${where}: ${e}`))
  const warnings = checked.warnings.map((w) => `${where}: ${w}, left out`)
  // The expressions are compiled once the parameters themselves are right (a missing one is said once).
  if (declaration.kind === 'RULE' && checked.errors.every((e) => e.startsWith('unknown parameter'))) {
    try {
      compileRule({ pluginId: conf.pluginId, businessId: conf.businessId, label: conf.label, parameters })
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message}`)
    }
  }
  return { errors, warnings, parameters }
}

/**
 * Imports a REGARDS notifier configuration for one tenant in one transaction: all of it, or nothing and
 * every error of the file at once, each naming its entry. Re-importing the same file changes nothing
 * (update by businessId).
 */
export async function importNotifierConfig(db: Db, secrets: SecretBox, tenant: string, file: NotifierConfigFile, options: ImportOptions = {}): Promise<ImportReport> {
  if (!file || !Array.isArray(file.modules)) throw new ConfigImportError(['the file must have a "modules" list'])
  const module = file.modules.find((m) => m?.module?.id === 'notifier') ?? (file.modules.length === 1 ? file.modules[0] : undefined)
  if (!module || !Array.isArray(module.configuration)) throw new ConfigImportError(['no "notifier" module with a "configuration" list in the file'])

  const plugins: PluginConfigurationInput[] = []
  const refused = new Set<string>()
  const associations: { ruleId: string; recipientIds: string[] }[] = []
  const errors: string[] = []
  const warnings: string[] = []
  module.configuration.forEach((entry, i) => {
    if (entry?.key === PLUGIN_CONFIGURATION_KEY) {
      const conf = { ...entry.value, businessId: entry.value?.businessId ?? randomUUID() }
      const checked = checkPluginConfiguration(conf, options.lenient ? 'warn' : 'refuse')
      if (checked.errors.length === 0 && pluginKind(conf.pluginId) === 'RECIPIENT') {
        checked.errors.push(...boundaryProblems(`plugin configuration ${conf.businessId} (${conf.pluginId})`, checked.parameters, tenant, options.crossTenantPublish ?? []))
      }
      errors.push(...checked.errors)
      warnings.push(...checked.warnings)
      if (checked.errors.length > 0) refused.add(String(conf.businessId))
      else plugins.push({ ...conf, parameters: checked.parameters })
    } else if (entry?.key === ASSOCIATION_KEY) {
      const v = entry.value
      if (typeof v?.ruleId !== 'string' || !Array.isArray(v?.recipientIds)) errors.push(`configuration[${i}]: an association needs ruleId and recipientIds`)
      else associations.push({ ruleId: v.ruleId, recipientIds: v.recipientIds.map(String) })
    } else {
      errors.push(`configuration[${i}]: unknown key ${JSON.stringify(entry?.key)}`)
    }
  })

  // The valid entries are written too, so that the associations are checked against them, then all is
  // rolled back if anything was wrong: one answer lists every error of the file.
  const rollback = new Error('rollback')
  try {
    return await db.transaction().execute(async (tx) => {
      const reset = module.resetBeforeImport === true
      if (reset) await resetTenantConfig(tx, tenant)
      for (const conf of plugins) await upsertPluginConfiguration(tx, secrets, tenant, conf, errors)
      for (const association of associations) await replaceAssociation(tx, tenant, association.ruleId, association.recipientIds, errors, refused)
      if (errors.length > 0) throw rollback
      await bumpConfigVersion(tx, tenant)
      return { plugins: plugins.length, associations: associations.length, reset, warnings }
    })
  } catch (err) {
    if (err === rollback) throw new ConfigImportError(errors)
    throw err
  }
}

/** REGARDS resetConfiguration: deletes the tenant's requests, rules and recipients. */
export async function resetTenantConfig(tx: Tx, tenant: string): Promise<void> {
  await sql`delete from notification_request where tenant = ${tenant}`.execute(tx)
  await sql`delete from plugin_configuration where tenant = ${tenant}`.execute(tx)
}

/** Writes one configuration, its secret parameters sealed (src/secrets). */
export async function upsertPluginConfiguration(tx: Tx, secrets: SecretBox, tenant: string, conf: PluginConfigurationInput, errors: string[]): Promise<void> {
  const kind = pluginKind(conf.pluginId)!
  const parameters = await parametersToStore(tx, secrets, tenant, conf)
  const { rows } = await sql<{ kind: string }>`
    insert into plugin_configuration (tenant, business_id, plugin_id, kind, label, version, priority_order, active, parameters)
    values (${tenant}, ${conf.businessId}, ${conf.pluginId}, ${kind}, ${conf.label}, ${conf.version ?? '1.0.0'},
      ${conf.priorityOrder ?? 0}, ${conf.active ?? true}, ${JSON.stringify(parameters)}::jsonb)
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

/**
 * The parameters sealed. Sealing draws a new IV each time, so parameters equal to the stored ones keep their
 * stored sealed form: re-importing the same file leaves the row (and its updated_at, hence the running
 * senders) untouched.
 */
async function parametersToStore(tx: Tx, secrets: SecretBox, tenant: string, conf: PluginConfigurationInput): Promise<PluginParameter[]> {
  const place = { tenant, businessId: conf.businessId!, pluginId: conf.pluginId }
  const parameters: PluginParameter[] = JSON.parse(JSON.stringify(conf.parameters ?? []))
  const { rows } = await sql<{ parameters: PluginParameter[] }>`select parameters from plugin_configuration
    where tenant = ${tenant} and business_id = ${conf.businessId} and plugin_id = ${conf.pluginId}`.execute(tx)
  const stored = rows[0]?.parameters
  if (stored && inspectSecrets(secrets, conf.pluginId, stored).stale === 0) {
    try {
      if (isDeepStrictEqual(openParameters(secrets, place, stored), parameters)) return stored
    } catch {
      // The stored secrets do not open: the new values replace them.
    }
  }
  return sealParameters(secrets, place, parameters)
}

/** `refused`: businessIds of entries already reported as invalid, not reported again as unknown here. */
export async function replaceAssociation(tx: Tx, tenant: string, ruleId: string, recipientIds: string[], errors: string[], refused: ReadonlySet<string> = new Set()): Promise<void> {
  const { rows } = await sql<{ id: number; business_id: string; kind: string }>`
    select id, business_id, kind from plugin_configuration
    where tenant = ${tenant} and business_id = any(${[ruleId, ...recipientIds]}::text[])`.execute(tx)
  const byId = new Map(rows.map((r) => [r.business_id, r]))
  const rule = byId.get(ruleId)
  if (!rule || rule.kind !== 'RULE') {
    if (!refused.has(ruleId)) errors.push(`Unknown RULE plugin business id ${ruleId} in rule/recipient association`)
    return
  }
  const recipients: number[] = []
  for (const recipientId of recipientIds) {
    const recipient = byId.get(recipientId)
    if (!recipient || recipient.kind !== 'RECIPIENT') {
      if (!refused.has(recipientId)) errors.push(`Unknown RECIPIENT plugin business id ${recipientId} in association with RULE ${ruleId}`)
    } else recipients.push(recipient.id)
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
