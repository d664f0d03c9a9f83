import type { Config } from '../config.ts'
import type { Db } from '../db/client.ts'
import { migrateOrThrow } from '../db/migrate.ts'
import type { Logger } from '../log.ts'
import { brokerAddress, explainBrokerError, reachBroker } from './reach-broker.ts'
import { databaseAddress, explainDatabaseError } from './reach-database.ts'
import { waitUntilReachable } from './wait-until-reachable.ts'

/**
 * Waits, both at once, for the broker to accept Herald's credentials and vhost and for the database to accept
 * its login, then migrates the database. A broker or database that is down (or not up yet, as in a container
 * start) is waited for up to HERALD_STARTUP_TIMEOUT_S; one that refuses the login, the vhost or the database
 * name fails at once. Either failure is a StartupError naming the address and the cause.
 */
export async function waitForDependencies(config: Config, db: Db, log: Logger): Promise<void> {
  const deadline = Date.now() + config.startupTimeoutS * 1000
  const abort = new AbortController()
  const common = { deadline, timeoutS: config.startupTimeoutS, log, signal: abort.signal }
  // A cluster's nodes (HERALD_AMQP_URL lists several): any one that answers is enough to start.
  const brokerUrls = config.amqpHosts.map((host) => {
    const url = new URL(config.amqpUrl)
    url.host = host
    return url.href
  })
  const waits = [
    waitUntilReachable({
      ...common,
      what: `RabbitMQ at ${brokerUrls.map(brokerAddress).join(', ')}`,
      attempt: () => reachAnyBroker(brokerUrls),
      explain: (err) => explainBrokerError((err as AggregateError).errors.at(-1), brokerUrls.at(-1)!),
    }),
    config.databaseUrl
      ? waitUntilReachable({ ...common, what: `PostgreSQL at ${databaseAddress(config.databaseUrl)}`, attempt: () => migrateOrThrow(db), explain: explainDatabaseError })
      : migrateOrThrow(db),
  ]
  try {
    await Promise.all(waits)
  } catch (err) {
    // The other wait stops too (the process is about to exit, but a test process goes on).
    abort.abort(err)
    await Promise.allSettled(waits)
    throw err
  }
}

/** Tries each URL in turn; rejects with an AggregateError of every failure (the last one explains it). */
async function reachAnyBroker(urls: string[]): Promise<void> {
  const errors: unknown[] = []
  for (const url of urls) {
    try {
      return await reachBroker(url)
    } catch (err) {
      errors.push(err)
    }
  }
  throw new AggregateError(errors, 'no broker reachable')
}
