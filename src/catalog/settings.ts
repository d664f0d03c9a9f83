import { sql } from 'kysely'
import type { Db, Tx } from '../db/client.ts'
import { ERR_NOT_FOUND, ERR_VALIDATION } from '../errors.ts'

/**
 * Tenant settings of the catalog (REGARDS dynamic tenant settings). `active_notifications` (FEM
 * `FeatureNotificationSettings.ACTIVE_NOTIFICATION`, "Enable notifications", default true): when on, successful
 * creations, patches and deletions are notified; explicit notification requests are notified either way.
 */
export const CATALOG_SETTINGS = {
  active_notifications: true,
} as const

export type CatalogSettingName = keyof typeof CATALOG_SETTINGS
export type CatalogSettings = { -readonly [K in CatalogSettingName]: (typeof CATALOG_SETTINGS)[K] extends boolean ? boolean : never }

/** The tenant's settings, defaults filled in. */
export async function getCatalogSettings(db: Db | Tx, tenant: string): Promise<CatalogSettings> {
  const { rows } = await sql<{ name: string; value: unknown }>`select name, value from catalog_setting
    where tenant = ${tenant}`.execute(db)
  const settings: CatalogSettings = { ...CATALOG_SETTINGS }
  for (const row of rows) {
    if (row.name === 'active_notifications' && typeof row.value === 'boolean') settings.active_notifications = row.value
  }
  return settings
}

/** Sets one setting; refused (HERALD_ERR_NOT_FOUND, HERALD_ERR_VALIDATION) with the accepted names and type when the name or value is wrong. */
export async function setCatalogSetting(db: Db, tenant: string, name: string, value: unknown): Promise<CatalogSettings> {
  if (!Object.hasOwn(CATALOG_SETTINGS, name)) throw ERR_NOT_FOUND(`no catalog setting ${name}; settings: ${Object.keys(CATALOG_SETTINGS).join(', ')}`)
  if (typeof value !== typeof CATALOG_SETTINGS[name as CatalogSettingName]) {
    throw ERR_VALIDATION(`catalog setting ${name} takes a ${typeof CATALOG_SETTINGS[name as CatalogSettingName]}, got ${JSON.stringify(value)}`)
  }
  await sql`insert into catalog_setting (tenant, name, value) values (${tenant}, ${name}, ${JSON.stringify(value)}::jsonb)
    on conflict (tenant, name) do update set value = excluded.value`.execute(db)
  return getCatalogSettings(db, tenant)
}
