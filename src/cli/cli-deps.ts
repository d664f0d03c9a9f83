import os from 'node:os'
import { sql } from 'kysely'
import { destination } from 'pino'
import { Broker } from '../amqp/broker.ts'
import { NOTHING_TAKEN } from '../amqp/outbox-relay.ts'
import { SEND_NOTHING_NOW } from '../notifier/send-now.ts'
import type { Config } from '../config.ts'
import { createLogger } from '../log.ts'
import { signalInstances, type InstanceSignal } from '../db/instance-signals.ts'
import { migrateOrThrow } from '../db/migrate.ts'
import { openDatabase } from '../db/open-database.ts'
import { loadTenantConfig } from '../notifier/tenant-config.ts'
import type { OpsDeps } from '../ops/deps.ts'
import { loadSecretBox } from '../secrets/secret-box.ts'

export interface CliDeps extends OpsDeps {
  /** Sends the signals still in flight, closes the broker (when an operation opened it) and the database. */
  close(): Promise<void>
}

/**
 * The operations' dependencies in a CLI process: the configuration's database (migrated), its secret key,
 * a logger on stderr (stdout is for results), the broker opened on first use (only replay and recipient
 * test publish), and signals that reach the running instances: on PostgreSQL a NOTIFY wakes their delivery
 * worker, outbox relay or catalog worker at once (src/db/instance-signals.ts); on PGlite no instance runs beside the CLI.
 */
export async function openCliDeps(config: Config): Promise<CliDeps> {
  const log = createLogger(config.logLevel === 'silent' ? 'silent' : 'warn', destination({ fd: 2, sync: true }), 'herald-cli')
  const database = await openDatabase(config)
  try {
    await migrateOrThrow(database.db)
  } catch (err) {
    await database.close()
    throw err
  }
  const db = database.db
  const secrets = loadSecretBox(config)
  const from = `cli:${os.userInfo().username}:${process.pid}`
  const sent: Promise<void>[] = []
  const signal = (what: InstanceSignal) => {
    if (!config.databaseUrl) return
    sent.push(signalInstances(db, what, from).catch((err: unknown) => log.warn({ err }, 'could not wake the running instances (they find the work at their next poll)')))
  }
  let broker: Broker | undefined
  return {
    db,
    config,
    log,
    secrets,
    signals: { deliveries: () => signal('deliveries'), announceDeliveries: () => signal('deliveries'), sendNow: () => SEND_NOTHING_NOW, outbox: () => signal('outbox'), takeConfirmedOutbox: () => NOTHING_TAKEN, catalog: () => signal('catalog') },
    get broker() {
      broker ??= new Broker(config.amqpUrl, config.instanceName, log, config.amqpHosts)
      return broker
    },
    configCache: {
      // Read once per operation: the CLI keeps no cache, the running instances see the change within a
      // second through config_version (src/notifier/tenant-config.ts).
      async get(tenant: string) {
        const { rows } = await sql<{ version: number }>`select version from config_version where tenant = ${tenant}`.execute(db)
        return loadTenantConfig(db, secrets, tenant, rows[0]?.version ?? 0)
      },
      invalidate() {},
    },
    async close() {
      await Promise.all(sent)
      await broker?.close()
      await database.close()
    },
  }
}
