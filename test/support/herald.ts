import { loadConfig } from '../../src/config.ts'
import { openPostgres } from '../../src/db/client.ts'
import { migrateOrThrow } from '../../src/db/migrate.ts'
import { createLogger, type Logger } from '../../src/log.ts'
import { startHerald, type Herald, type Role } from '../../src/main.ts'
import { importNotifierConfig, type NotifierConfigFile } from '../../src/notifier/config-import.ts'
import { storageSecrets, TEST_PRIVATE_NETWORKS, type TestStorage } from './services.ts'

/** Starts Herald in this process on a test vhost and storage. Logs go to `log`, else to stdout only when HERALD_TEST_LOG is set. */
export function startTestHerald(opts: { storage: TestStorage; amqpUrl: string; roles?: Role[]; env?: Record<string, string>; log?: Logger }): Promise<Herald> {
  const config = loadConfig({
    HERALD_AMQP_URL: opts.amqpUrl,
    HERALD_DATABASE_URL: opts.storage.databaseUrl,
    HERALD_DATA_DIR: opts.storage.dataDir,
    HERALD_HTTP_PORT: '0',
    // The webhook and SMTP servers of the tests listen on loopback.
    HERALD_ALLOW_PRIVATE_NETWORKS: TEST_PRIVATE_NETWORKS,
    ...opts.env,
  })
  const log = opts.log ?? createLogger(process.env.HERALD_TEST_LOG ?? 'silent')
  return startHerald(config, opts.roles ?? ['notifier'], log)
}

export const pluginConf = (pluginId: string, businessId: string, parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  key: 'fr.cnes.regards.framework.modules.plugins.domain.PluginConfiguration',
  value: {
    pluginId,
    businessId,
    label: businessId,
    version: '1.0.0',
    priorityOrder: 0,
    active: true,
    parameters: Object.entries(parameters).map(([name, value]) => ({ name, type: typeof value === 'boolean' ? 'BOOLEAN' : 'STRING', value })),
    ...extra,
  },
})

export const association = (ruleId: string, recipientIds: string[]) => ({
  key: 'fr.cnes.regards.modules.notifier.dto.conf.RuleRecipientsAssociation',
  value: { ruleId, recipientIds },
})

export function configFile(configuration: unknown[], resetBeforeImport = true): NotifierConfigFile {
  return { microservice: 'rs-notifier', modules: [{ module: { id: 'notifier' }, resetBeforeImport, configuration: configuration as any }] }
}

/** Imports a configuration and waits until the running Herald uses it. */
export async function importConfig(herald: Herald, tenant: string, configuration: unknown[], resetBeforeImport = true): Promise<void> {
  await importNotifierConfig(herald.ctx.db, herald.ctx.secrets, tenant, configFile(configuration, resetBeforeImport), { crossTenantPublish: herald.ctx.config.crossTenantPublish })
  herald.ctx.configCache.invalidate(tenant)
}

/**
 * Migrates a PostgreSQL test storage and gives `tenant` one webhook recipient, `silent`, at `url` (30 s
 * timeout), sent every CREATED product: for the tests whose recipient never answers, so that a claim
 * stays in flight.
 */
export async function storeSilentWebhookTenant(storage: TestStorage, tenant: string, url: string): Promise<void> {
  const database = await openPostgres(storage.databaseUrl!, 2)
  try {
    await migrateOrThrow(database.db)
    await importNotifierConfig(
      database.db,
      storageSecrets(storage),
      tenant,
      configFile([
        pluginConf('WebhookSender', 'silent', { url, recipientLabel: 'silent', allowPrivateNetwork: true, timeoutMs: '30000' }),
        pluginConf('LuceneRuleMatcher', 'all', { metadata_rule: 'action:CREATED' }),
        association('all', ['silent']),
      ]),
    )
  } finally {
    await database.close()
  }
}
