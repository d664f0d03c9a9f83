import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import type { Logger } from '../log.ts'
import type { PluginParameter } from '../senders/sender.ts'
import type { SecretBox } from './secret-box.ts'
import { inspectSecrets, openParameters, sealParameters } from './secret-parameters.ts'
import { StartRefusal } from './start-refusal.ts'

interface StoredRow {
  id: number
  tenant: string
  business_id: string
  plugin_id: string
  parameters: PluginParameter[]
}

/**
 * Run at every start, after the migrations: seals the secrets that a Herald older than sealing stored in
 * clear (and those sealed with HERALD_SECRET_KEY_PREVIOUS, with the current key), and refuses the start when secrets were sealed with another key (HERALD_SECRET_KEY unset or
 * changed), naming the configurations, rather than failing each delivery later.
 *
 * Done here rather than in a SQL migration because migrations do not hold the key, and because a clear row
 * may still be written after the migration ran (an older instance on the same PostgreSQL during an upgrade);
 * this pass seals it at the next start. It reads every plugin configuration once: a few hundred rows.
 */
export async function sealStoredSecrets(db: Db, box: SecretBox, log: Logger): Promise<{ sealed: number }> {
  const { rows } = await sql<StoredRow>`select id, tenant, business_id, plugin_id, parameters from plugin_configuration order by id`.execute(db)
  const foreign = new Map<string, string[]>()
  const toSeal: StoredRow[] = []
  for (const row of rows) {
    const found = inspectSecrets(box, row.plugin_id, row.parameters)
    for (const keyId of found.foreignKeys) foreign.set(keyId, [...(foreign.get(keyId) ?? []), `${row.tenant}/${row.business_id}`])
    if (found.stale > 0) toSeal.push(row)
  }
  if (foreign.size > 0) {
    const [keyId, places] = [...foreign][0]
    throw new StartRefusal(
      `The secrets of ${places.length} plugin configuration(s) (${places.slice(0, 5).join(', ')}${places.length > 5 ? ', …' : ''}) were sealed with ` +
        `key ${keyId}, this instance has key ${box.keyId}: start with the HERALD_SECRET_KEY (or data directory secret-key) they were sealed with, ` +
        `or with it as HERALD_SECRET_KEY_PREVIOUS to change keys`,
    )
  }
  let sealed = 0
  for (const row of toSeal) {
    const place = { tenant: row.tenant, businessId: row.business_id, pluginId: row.plugin_id }
    let parameters: PluginParameter[]
    try {
      parameters = sealParameters(box, place, openParameters(box, place, row.parameters))
    } catch (err) {
      // Altered: left as it is; that recipient waits with the error (ConfigCache) until its secret is sent again.
      log.error({ err, tenant: row.tenant, configuration: row.business_id }, 'a stored secret does not open')
      continue
    }
    // Only if nobody changed the row meanwhile (another instance starting, an API call): theirs is sealed already.
    const { rows: updated } = await sql`update plugin_configuration set parameters = ${JSON.stringify(parameters)}::jsonb
      where id = ${row.id} and parameters = ${JSON.stringify(row.parameters)}::jsonb returning id`.execute(db)
    sealed += updated.length
  }
  if (sealed > 0) log.info({ configurations: sealed }, 'sealed secret parameters stored in clear by an earlier Herald')
  return { sealed }
}
