import { Migrator, type Migration, type MigrationResultSet } from 'kysely/migration'
import type { Db } from './client.ts'
import * as notifier from './migrations/0001-notifier.ts'
import * as catalog from './migrations/0002-catalog.ts'
import * as deadLetters from './migrations/0003-dead-letters.ts'
import * as recipientState from './migrations/0004-recipient-state.ts'
import * as historyDeliveries from './migrations/0005-history-deliveries.ts'
import * as deliveryLeaseIndex from './migrations/0006-delivery-lease-index.ts'
import * as instanceHeartbeat from './migrations/0007-instance-heartbeat.ts'
import * as consoleSessions from './migrations/0008-console-sessions.ts'
import * as audit from './migrations/0009-audit.ts'
import * as retryJobs from './migrations/0011-retry-jobs.ts'
import * as requestListingIndexes from './migrations/0014-request-listing-indexes.ts'
import * as deliveryActivity from './migrations/0015-delivery-activity.ts'
import * as outboxRelayAfter from './migrations/0016-outbox-relay-after.ts'

/** Forward-only migrations, in order. Add a file in ./migrations and list it here. */
const migrations: Record<string, Migration> = {
  '0001-notifier': notifier,
  '0002-catalog': catalog,
  '0003-dead-letters': deadLetters,
  '0004-recipient-state': recipientState,
  '0005-history-deliveries': historyDeliveries,
  '0006-delivery-lease-index': deliveryLeaseIndex,
  '0007-instance-heartbeat': instanceHeartbeat,
  '0008-console-sessions': consoleSessions,
  '0009-audit': audit,
  '0011-retry-jobs': retryJobs,
  '0014-request-listing-indexes': requestListingIndexes,
  '0015-delivery-activity': deliveryActivity,
  '0016-outbox-relay-after': outboxRelayAfter,
}

/** Brings the schema up to date. Never throws: the result says which migration failed and why. */
export function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
  return migrator.migrateToLatest()
}

/** Same as {@link migrateToLatest}, but throws the first error (for start-up and tests). */
export async function migrateOrThrow(db: Db): Promise<void> {
  const { error } = await migrateToLatest(db)
  if (error) throw new Error(`Database migration failed: ${(error as Error).message ?? error}`, { cause: error })
}
