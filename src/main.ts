import { randomUUID } from 'node:crypto'
import { Broker } from './amqp/broker.ts'
import { NOTHING_TAKEN, OutboxRelay, type OutboxRow } from './amqp/outbox-relay.ts'
import { declareBroadcastExchange, NOTIFIER_EVENT_EXCHANGE } from './amqp/topology.ts'
import type { Config } from './config.ts'
import type { Ctx } from './context.ts'
import { openDatabase } from './db/open-database.ts'
import { InstanceSignals } from './db/instance-signals.ts'
import { HeraldEvents } from './events.ts'
import { startDeadLetterCollector } from './dead-letters/collector.ts'
import { createHttpServer } from './http/server.ts'
import { createLogger, type Logger } from './log.ts'
import { createMetrics } from './metrics.ts'
import { DeliveryWorker } from './notifier/delivery-worker.ts'
import { createIntakeConsumers } from './notifier/intake.ts'
import { beat, leave, startHeartbeat } from './notifier/instance-heartbeat.ts'
import { startMaintenance } from './notifier/maintenance.ts'
import { RetryJobRunner } from './notifier/retry-jobs.ts'
import { SEND_NOTHING_NOW } from './notifier/send-now.ts'
import { bulkRetryEnded } from './ops/requests-bulk-retry.ts'
import { wakeCatalogWorkers } from './catalog/catalog-worker.ts'
import { startCatalog } from './catalog/start-catalog.ts'
import { ConfigCache } from './notifier/tenant-config.ts'
import { ROLES, type Role } from './roles.ts'
import { resolveJwtSecret } from './secrets/jwt-secret.ts'
import { loadSecretBox } from './secrets/secret-box.ts'
import { sealStoredSecrets } from './secrets/seal-stored-secrets.ts'
import { waitForDependencies } from './startup/wait-for-dependencies.ts'

export { ROLES, type Role }

export interface Herald {
  ctx: Ctx
  /** Drains and stops every part, in the reverse order of start (http → consumers → workers → bus → db). */
  stop(): Promise<void>
}

/** Wiring only: config → logger → db → amqp → roles → http. */
export async function startHerald(config: Config, roles: readonly Role[] = ROLES, log: Logger = createLogger(config.logLevel)): Promise<Herald> {
  const releasers: (() => Promise<void> | void)[] = []
  const stop = async () => {
    for (const release of releasers.reverse()) {
      try {
        await release()
      } catch (err) {
        log.warn({ err }, 'error while stopping')
      }
    }
  }
  let unlistened: Promise<Awaited<ReturnType<typeof createHttpServer>>> | undefined
  try {
    // Before anything is opened: a short HS256 secret is the operator's to fix (StartRefusal).
    if (roles.includes('http')) resolveJwtSecret(config)
    const database = await openDatabase(config, log)
    releasers.push(() => database.close())
    await waitForDependencies(config, database.db, log)
    const secrets = loadSecretBox(config)
    await sealStoredSecrets(database.db, secrets, log)
    const broker = new Broker(config.amqpUrl, config.instanceName, log, config.amqpHosts)
    releasers.push(() => broker.close())
    const configCache = new ConfigCache(database.db, secrets, log)
    configCache.start()
    releasers.push(() => configCache.stop())
    const events = new HeraldEvents(log)
    let relay: OutboxRelay | undefined
    let worker: DeliveryWorker | undefined
    // Other processes on the same PostgreSQL hear of new deliveries at once (PGlite serves one process).
    const instanceId = randomUUID()
    const instanceSignals = config.databaseUrl ? new InstanceSignals(config.databaseUrl, database.db, instanceId, log) : undefined
    if (instanceSignals) releasers.push(() => instanceSignals.stop())
    const ctx: Ctx = Object.freeze({
      instanceId,
      config,
      log,
      db: database.db,
      backend: database.backend,
      broker,
      configCache,
      secrets,
      events,
      signals: {
        deliveries: () => {
          worker?.notify()
          instanceSignals?.announce()
        },
        announceDeliveries: () => instanceSignals?.announce(),
        sendNow: () => worker?.sendNow() ?? SEND_NOTHING_NOW,
        outbox: (committed?: OutboxRow[]) => (committed?.length ? relay?.publishCommitted(committed) : relay?.notify()),
        takeConfirmedOutbox: () => relay?.takeConfirmed() ?? NOTHING_TAKEN,
        catalog: () => {
          wakeCatalogWorkers(database.db)
          instanceSignals?.announce('catalog')
        },
      },
    })
    const metrics = createMetrics(events, { tenants: config.tenants, configCache })
    let consuming = false
    // The HTTP API is built (its routes' schemas compiled, ~0.5 s of CPU at start) while the notifier and
    // the catalog wait for the broker to declare their queues; it listens once they are up.
    unlistened = roles.includes('http')
      ? createHttpServer(ctx, { metrics, consuming: () => consuming || !roles.includes('notifier'), catalog: roles.includes('catalog') }).then(async (app) => {
          await app.ready()
          return app
        })
      : undefined
    unlistened?.catch(() => {}) // its error, if any, is thrown where it is awaited

    relay = new OutboxRelay(database.db, broker, log)
    relay.start()
    releasers.push(() => relay!.stop())
    // Another instance or the CLI changed something: the worker (once started) and the relay look at once.
    await instanceSignals?.start((signal, from) => {
      events.safeEmit('instance:signalled', { signal, from })
      if (signal === 'deliveries') worker?.notify()
      else if (signal === 'outbox') relay?.notify()
      else wakeCatalogWorkers(database.db)
    })

    if (roles.includes('notifier')) {
      await declareBroadcastExchange(broker.connection, NOTIFIER_EVENT_EXCHANGE)
      // Registered before its first claim (the others take back the claims of an instance they do not see
      // beating), and beating until the worker has drained at a clean stop.
      await beat(ctx)
      const heartbeat = startHeartbeat(ctx)
      releasers.push(async () => {
        heartbeat.stop()
        await leave(ctx)
      })
      worker = new DeliveryWorker(ctx)
      worker.start()
      releasers.push(() => worker!.stop())
      const stopMaintenance = startMaintenance(ctx, heartbeat)
      releasers.push(stopMaintenance)
      const retryJobs = new RetryJobRunner({ ...ctx, log: log.child({ module: 'retry-jobs' }), batchSize: config.retryJobBatchSize, onEnd: (job) => bulkRetryEnded(ctx, job) })
      retryJobs.start()
      releasers.push(() => retryJobs.stop())
      // Declared at once: each declaration is a round trip to the broker, and a new priority queue costs it ~0.5 s.
      const consumers = createIntakeConsumers(ctx)
      for (const consumer of consumers) releasers.push(() => consumer.stop())
      await Promise.all(consumers.map((consumer) => consumer.start()))
      consuming = true
      releasers.push(() => {
        consuming = false
      })
    }
    if (roles.includes('catalog')) {
      const stopCatalog = await startCatalog(ctx)
      releasers.push(stopCatalog)
    }
    if (roles.includes('http')) {
      const app = await unlistened!
      await app.listen({ host: config.httpHost, port: config.httpPort })
      log.info({ url: `http://${config.httpHost}:${config.httpPort}` }, 'HTTP API listening')
      releasers.push(() => app.close())
      unlistened = undefined
      releasers.push(await startDeadLetterCollector(ctx, roles))
    }
    log.info({ roles, backend: database.backend }, 'Herald started')
    return { ctx, stop }
  } catch (err) {
    await unlistened?.then((app) => app.close(), () => {})
    await stop()
    throw err
  }
}
