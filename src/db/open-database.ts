import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { openPglite, openPostgres, type Database } from './client.ts'

/** The database of the configuration: PostgreSQL when HERALD_DATABASE_URL is set, else PGlite in the data directory. */
export function openDatabase(config: Config, log?: Logger): Promise<Database> {
  const limits = { acquireTimeoutMs: config.dbAcquireTimeoutMs, statementTimeoutMs: config.dbStatementTimeoutMs, idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs }
  return config.databaseUrl ? openPostgres(config.databaseUrl, undefined, log, limits) : openPglite(config.dataDir)
}
