import { EventEmitter } from 'node:events'
import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import type { Logger } from '../log.ts'
import { compileRuleInLine, type InLineRule } from '../rules/compile-rule.ts'
import type { SecretBox } from '../secrets/secret-box.ts'
import { openParameters } from '../secrets/secret-parameters.ts'
import { SENDER_PLUGINS } from '../senders/registry.ts'
import { parametersToMap, type Parameters, type PluginParameter, type RecipientInfo, type SenderPlugin } from '../senders/sender.ts'

export interface RecipientConfig {
  id: number
  tenant: string
  businessId: string
  pluginId: string
  label: string
  active: boolean
  params: Parameters
  /** Changes whenever the configuration row changes: senders are rebuilt when it does. */
  revision: string
  /** Undefined when Herald has no such plugin, or when its secrets do not open (see `secretsError`): its deliveries wait. */
  plugin: SenderPlugin | undefined
  info: RecipientInfo
  /** Why the stored secrets do not open (sealed with another key, or altered), naming the parameter. */
  secretsError?: string
}

export interface RuleEntry {
  id: number
  businessId: string
  label: string
  recipientIds: number[]
  /** A rule that failed to compile gives a matching error on every request it meets. */
  compiled: InLineRule | { compileError: string }
}

export interface TenantConfig {
  tenant: string
  version: number
  /** Active rule matchers that are associated with recipients: the ones matching uses. */
  rules: RuleEntry[]
  recipientsById: Map<number, RecipientConfig>
  recipientsByBusinessId: Map<string, RecipientConfig>
}

const UNKNOWN_INFO: RecipientInfo = { recipientLabel: undefined, ackRequired: false, blockingRequired: false, directNotificationEnabled: false, description: '' }

interface ConfigRow {
  id: number
  business_id: string
  plugin_id: string
  kind: 'RULE' | 'RECIPIENT'
  label: string
  active: boolean
  parameters: PluginParameter[]
  updated_at: Date
  is_rule: boolean
  recipient_ids: number[] | null
}

/** Loads one tenant's rules and recipients, with their secrets opened, compiling each rule once. */
export async function loadTenantConfig(db: Db, secrets: SecretBox, tenant: string, version: number): Promise<TenantConfig> {
  const { rows } = await sql<ConfigRow>`
    select c.id, c.business_id, c.plugin_id, c.kind, c.label, c.active, c.parameters, c.updated_at,
      r.plugin_configuration_id is not null as is_rule,
      (select array_agg(rr.recipient_id order by rr.recipient_id) from rule_recipient rr where rr.rule_id = c.id) as recipient_ids
    from plugin_configuration c left join rule r on r.plugin_configuration_id = c.id
    where c.tenant = ${tenant}
    order by c.id`.execute(db)
  const config: TenantConfig = { tenant, version, rules: [], recipientsById: new Map(), recipientsByBusinessId: new Map() }
  for (const row of rows) {
    let secretsError: string | undefined
    try {
      row.parameters = openParameters(secrets, { tenant, businessId: row.business_id, pluginId: row.plugin_id }, row.parameters)
    } catch (err) {
      secretsError = (err as Error).message
    }
    if (row.kind === 'RECIPIENT') {
      const params = parametersToMap(row.parameters)
      const known = SENDER_PLUGINS.get(row.plugin_id)
      const plugin = secretsError ? undefined : known
      const recipient: RecipientConfig = {
        id: row.id,
        tenant,
        businessId: row.business_id,
        pluginId: row.plugin_id,
        label: row.label,
        active: row.active,
        params,
        revision: `${row.id}:${row.updated_at.getTime()}`,
        plugin,
        info: known ? known.describe(params) : UNKNOWN_INFO,
        ...(secretsError ? { secretsError } : {}),
      }
      config.recipientsById.set(row.id, recipient)
      config.recipientsByBusinessId.set(row.business_id, recipient)
    } else if (row.active && row.is_rule) {
      let compiled: RuleEntry['compiled']
      try {
        if (secretsError) throw new Error(secretsError)
        compiled = compileRuleInLine({ pluginId: row.plugin_id, businessId: row.business_id, label: row.label, parameters: row.parameters })
      } catch (err) {
        compiled = { compileError: (err as Error).message }
      }
      // node-postgres parses int8 as a number (db/client.ts) but returns int8[] elements as strings.
      config.rules.push({ id: row.id, businessId: row.business_id, label: row.label, recipientIds: (row.recipient_ids ?? []).map(Number), compiled })
    }
  }
  return config
}

// Each instance checks the configuration versions every 500 ms: a rule or recipient change is in force
// everywhere within a second, for the price of one indexed read of a tiny table per instance.
const POLL_MS = 500

/** What the configuration cache announces. */
export interface ConfigCacheEvents {
  /** The tenants whose configuration changed since the last refresh (by any instance, or the CLI). */
  change: [tenants: string[]]
}

/**
 * Per-tenant configuration cache, rebuilt when the tenant's `config_version` changes. Rules are compiled
 * once per configuration change, never per message. Emits `change` with the tenants whose version changed.
 *
 * @example
 * configCache.on('change', (tenants) => rematchRuleErrors(ctx, tenants))
 */
export class ConfigCache extends EventEmitter<ConfigCacheEvents> {
  readonly #db: Db
  readonly #secrets: SecretBox
  readonly #log: Logger
  readonly #configs = new Map<string, Promise<TenantConfig>>()
  readonly #versions = new Map<string, number>()
  /** Tenants with a configuration (a config_version row) at the last refresh. */
  #configured = new Set<string>()
  #timer: NodeJS.Timeout | undefined

  constructor(db: Db, secrets: SecretBox, log: Logger) {
    super()
    this.#db = db
    this.#secrets = secrets
    this.#log = log
  }

  start(): void {
    const tick = async () => {
      try {
        await this.refresh()
      } catch (err) {
        this.#log.warn({ err }, 'configuration refresh failed')
      }
      this.#timer = setTimeout(tick, POLL_MS)
      this.#timer.unref()
    }
    this.#timer = setTimeout(tick, POLL_MS)
    this.#timer.unref()
  }

  stop(): void {
    clearTimeout(this.#timer)
  }

  /**
   * Reads every tenant's version and drops the caches that are out of date, and those of tenants without a
   * configuration: a request may name any tenant, and each one kept would grow the cache without bound.
   */
  async refresh(): Promise<void> {
    const { rows } = await sql<{ tenant: string; version: number }>`select tenant, version from config_version`.execute(this.#db)
    const changed: string[] = []
    for (const { tenant, version } of rows) {
      const known = this.#versions.get(tenant)
      if (known !== undefined && known !== version) {
        this.#configs.delete(tenant)
        changed.push(tenant)
      }
      this.#versions.set(tenant, version)
    }
    this.#configured = new Set(rows.map((r) => r.tenant))
    for (const tenant of this.#versions.keys()) {
      if (!this.#configured.has(tenant)) {
        this.#versions.delete(tenant)
        this.#configs.delete(tenant)
      }
    }
    if (changed.length === 0) return
    try {
      this.emit('change', changed)
    } catch (err) {
      // A broken listener must not stop the refreshes: the caches above are already dropped.
      this.#log.error({ err }, 'a configuration change listener failed')
    }
  }

  /** True when the tenant had a configuration at the last refresh (at most 500 ms ago). */
  isConfigured(tenant: string): boolean {
    return this.#configured.has(tenant)
  }

  /** How many tenants' configurations are held in memory. */
  get cachedTenants(): number {
    return this.#configs.size
  }

  get(tenant: string): Promise<TenantConfig> {
    let config = this.#configs.get(tenant)
    if (!config) {
      config = (async () => {
        const { rows } = await sql<{ version: number }>`select version from config_version where tenant = ${tenant}`.execute(this.#db)
        const version = rows[0]?.version ?? 0
        this.#versions.set(tenant, version)
        const loaded = await loadTenantConfig(this.#db, this.#secrets, tenant, version)
        for (const recipient of loaded.recipientsById.values()) {
          if (recipient.secretsError) this.#log.error({ tenant, recipient: recipient.businessId }, `recipient ${recipient.businessId} waits: ${recipient.secretsError}`)
        }
        return loaded
      })()
      config.catch(() => this.#configs.delete(tenant))
      this.#configs.set(tenant, config)
    }
    return config
  }

  /** Forgets a tenant's configuration now (after a change made by this instance). */
  invalidate(tenant: string): void {
    this.#configs.delete(tenant)
  }
}
