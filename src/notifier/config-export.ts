import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { MASK, mapSecretParts } from '../secrets/secret-parameters.ts'
import type { PluginParameter } from '../senders/sender.ts'
import { ASSOCIATION_KEY, PLUGIN_CONFIGURATION_KEY, type NotifierConfigFile } from './config-import.ts'

/** Secrets are exported masked (they are stored sealed), so an export can be shared without leaking them. */
const maskParameters = (pluginId: string, parameters: PluginParameter[]) => mapSecretParts(pluginId, parameters, () => MASK)

/**
 * The tenant's rules and recipients in the REGARDS import format: every plugin configuration (forced
 * active, as REGARDS exports them), one association per rule, `resetBeforeImport: true`.
 */
export async function exportNotifierConfig(db: Db, tenant: string): Promise<NotifierConfigFile> {
  const { rows: plugins } = await sql<{ id: number; business_id: string; plugin_id: string; label: string; version: string; priority_order: number; parameters: PluginParameter[] }>`
    select id, business_id, plugin_id, label, version, priority_order, parameters from plugin_configuration
    where tenant = ${tenant} order by kind desc, id`.execute(db)
  const { rows: rules } = await sql<{ rule: string; recipients: string[] }>`
    select rc.business_id as rule,
      coalesce(array_agg(c.business_id order by c.business_id) filter (where c.id is not null), '{}') as recipients
    from rule r join plugin_configuration rc on rc.id = r.plugin_configuration_id
      left join rule_recipient rr on rr.rule_id = r.plugin_configuration_id
      left join plugin_configuration c on c.id = rr.recipient_id
    where r.tenant = ${tenant} group by rc.business_id order by rc.business_id`.execute(db)
  return {
    microservice: 'rs-notifier',
    modules: [
      {
        module: {
          id: 'notifier',
          name: 'Notifier module',
          description: 'Notification reception and dissemination',
          version: '1.6.0',
          author: 'REGARDS',
          legalOwner: 'CNES',
          documentation: '',
        },
        resetBeforeImport: true,
        configuration: [
          ...plugins.map((p) => ({
            key: PLUGIN_CONFIGURATION_KEY,
            value: {
              pluginId: p.plugin_id,
              label: p.label,
              businessId: p.business_id,
              version: p.version,
              priorityOrder: p.priority_order,
              active: true,
              parameters: maskParameters(p.plugin_id, p.parameters),
            },
          })),
          ...rules.map((r) => ({ key: ASSOCIATION_KEY, value: { ruleId: r.rule, recipientIds: r.recipients } })),
        ],
      },
    ],
  }
}
