import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { NOTHING_TAKEN } from '../src/amqp/outbox-relay.ts'
import { SEND_NOTHING_NOW } from '../src/notifier/send-now.ts'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { Connection, type AsyncMessage } from 'rabbitmq-client'
import { loadConfig } from '../src/config.ts'
import type { Ctx } from '../src/context.ts'
import { HeraldEvents } from '../src/events.ts'
import { createLogger } from '../src/log.ts'
import { handleAckBatch } from '../src/catalog/handle-acks.ts'
import { handleNotifierEventBatch } from '../src/catalog/handle-notifier-events.ts'
import { REQUEST_SPECS, handleRequestBatch } from '../src/catalog/intake.ts'
import { processDueRequests } from '../src/catalog/process-due-requests.ts'
import { FEATURE_ACK_EXCHANGE, FEATURE_ACK_TYPE, FEATURE_NOTIFICATION_EXCHANGE } from '../src/catalog/topology.ts'
import { featureUrn } from '../src/catalog/urn.ts'
import { openPostgres, type Db } from '../src/db/client.ts'
import { migrateOrThrow } from '../src/db/migrate.ts'
import { importNotifierConfig } from '../src/notifier/config-import.ts'
import { association, configFile, pluginConf } from '../test/support/herald.ts'
import type { Figure } from './harness.ts'
import { createTestStorage, createVhost, storageSecrets, type TestStorage } from '../test/support/services.ts'
import type { SecretBox } from '../src/secrets/secret-box.ts'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const TENANT = 'bench'
// Sized so that the whole benchmark stays near a minute on a 2-core machine where the broker, not Herald, sets the
// pace: every REGARDS queue is declared with x-max-priority 255, and RabbitMQ 3.10's classic priority queue costs
// about 4× a plain queue to publish to and far more to drain (measured here: 3,600 vs 14,400 publishes/s, 850 vs
// 19,000 deliveries/s from a 20,000-message backlog). So each path is measured twice: through the broker, and the
// same Herald code without the broker (its own capacity).
const ACKS = 15_000
const PROCESSING_ACKS = 50_000
const CEILING_MESSAGES = 8_000
const debug = (...args: unknown[]) => {
  if (process.env.BENCH_DEBUG) console.error(new Date().toISOString(), ...args)
}
const NOTIFICATIONS = 6_000
const PROCESSING_NOTIFICATIONS = 10_000


interface Instance {
  vhost: Awaited<ReturnType<typeof createVhost>>
  storage: TestStorage
  db: Db
  closeDb: () => Promise<void>
  child?: ChildProcess
}

/** A fresh vhost and PostgreSQL database, migrated and prepared by `prepare`, then Herald as its own process. */
async function startInstance(roles: string, prepare: (db: Db, secrets: SecretBox) => Promise<void>): Promise<Instance> {
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  const { db, close } = await openPostgres(storage.databaseUrl!)
  await migrateOrThrow(db)
  await prepare(db, storageSecrets(storage))
  debug('prepared', roles)
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/herald.js'), 'start', '--roles', roles], {
    cwd: repoRoot,
    env: { ...process.env, HERALD_AMQP_URL: vhost.url, HERALD_DATABASE_URL: storage.databaseUrl, HERALD_DATA_DIR: storage.dataDir, HERALD_LOG_LEVEL: 'warn' },
    stdio: ['ignore', process.env.BENCH_DEBUG ? 'inherit' : 'ignore', 'inherit'],
  })
  return { vhost, storage, db, closeDb: close, child }
}

async function stopInstance(instance: Instance): Promise<void> {
  if (instance.child && instance.child.exitCode === null) {
    instance.child.kill('SIGTERM')
    await new Promise((r) => instance.child!.once('exit', r))
  }
  await instance.closeDb()
  await instance.storage.drop()
  await instance.vhost.drop()
}

/** Seeds `count` features, each disseminated to `label` and waiting for its ack when `pending`. */
async function seedProducts(db: Db, count: number, pending: boolean): Promise<string[]> {
  const urns = Array.from({ length: count }, (_, i) => featureUrn(TENANT, `bench-${i}`, 1))
  for (let i = 0; i < count; i += 10_000) {
    const chunk = urns.slice(i, i + 10_000).map((urn, j) => ({ urn, provider_id: `bench-${i + j}` }))
    await sql`insert into catalog_product (tenant, urn, kind, provider_id, version, session_owner, session, content, dissemination_status)
      select ${TENANT}, urn, 'FEATURE', provider_id, 1, 'bench', 's1',
        jsonb_build_object('type', 'Feature', 'id', provider_id, 'urn', urn, 'entityType', 'DATA', 'properties', jsonb_build_object('mission', 'SWOT')),
        ${pending ? 'PENDING' : 'NONE'}
      from jsonb_to_recordset(${JSON.stringify(chunk)}::jsonb) as t(urn text, provider_id text)`.execute(db)
  }
  if (pending) {
    await sql`insert into catalog_dissemination (product_id, tenant, label, request_date, ack_date, blocking)
      select id, tenant, 'mission-b', now() - interval '1 minute', null, false from catalog_product where tenant = ${TENANT}`.execute(db)
  }
  return urns
}

/**
 * Publishes with confirms, at most 1,000 unconfirmed at a time. A counter and one waiter, not Promise.race over the
 * window: racing 1,000 promises per message attaches 1,000 reactions each time, and capped this client at about
 * 1,400 messages/s.
 */
async function publishAll(count: number, publish: (i: number) => Promise<void>): Promise<void> {
  let inFlight = 0
  let failed: unknown
  let wake: (() => void) | undefined
  for (let i = 0; i < count; i++) {
    if (failed) throw failed
    while (inFlight >= 1000) await new Promise<void>((r) => (wake = r))
    inFlight++
    publish(i).then(
      () => {
        inFlight--
        wake?.()
      },
      (err) => {
        failed = err
        inFlight--
        wake?.()
      },
    )
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r))
  if (failed) throw failed
}

/** Polls `count()` until it reaches `target`; returns the time it did, or throws after `timeoutMs`. */
async function until(count: () => Promise<number>, target: number, timeoutMs: number, what: string): Promise<number> {
  const deadline = performance.now() + timeoutMs
  let last = 0
  for (;;) {
    last = await count()
    debug(what, last)
    if (last >= target) return performance.now()
    if (performance.now() > deadline) throw new Error(`${what}: only ${last}/${target} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function waitConsuming(rabbit: Connection, queue: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await rabbit.queueDeclare({ queue, passive: true }).then((q) => q.consumerCount > 0, () => false)
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nobody consumes ${queue}`)
}

/** Acks applied per second, sustained: 50,000 DisseminationAckEvents for 50,000 pending products. */
export async function benchAcks(): Promise<Figure> {
  let urns: string[] = []
  const instance = await startInstance('catalog', async (db) => {
    urns = await seedProducts(db, ACKS, true)
  })
  const rabbit = new Connection({ url: instance.vhost.url })
  rabbit.on('error', () => {})
  try {
    await waitConsuming(rabbit, 'regards.broadcast.rs-fem.fr.cnes.regards.modules.feature.service.flow.FeatureDisseminationResponseHandler')
    const publisher = rabbit.createPublisher({ confirm: true })
    const started = performance.now()
    await publishAll(urns.length, (i) =>
      publisher.send(
        { exchange: FEATURE_ACK_EXCHANGE, headers: { 'regards.tenant': TENANT, 'regards.type': FEATURE_ACK_TYPE }, durable: true, contentType: 'application/json', priority: 0 },
        Buffer.from(JSON.stringify({ urn: urns[i], recipientLabel: 'mission-b' })),
      ),
    )
    debug(`acks published in ${Math.round(performance.now() - started)} ms`)
    const done = await until(
      async () => Number((await sql<{ n: number }>`select count(*) as n from catalog_dissemination where ack_date is not null`.execute(instance.db)).rows[0].n),
      urns.length,
      40_000,
      'acks applied',
    )
    await publisher.close()
    const pending = await sql<{ n: number }>`select count(*) as n from catalog_product where dissemination_status <> 'DONE'`.execute(instance.db)
    if (Number(pending.rows[0].n) !== 0) throw new Error(`${pending.rows[0].n} products still not DONE`)
    return { name: 'catalog.acks.through_broker (DisseminationAckEvent → ackDate + status, live publishing)', value: Math.round(urns.length / ((done - started) / 1000)), unit: 'acks/s', target: '≥ 5000' }
  } finally {
    await rabbit.close()
    await stopInstance(instance)
  }
}

/**
 * Notification requests end to end: FeatureNotificationRequestEvent → catalog → notifier → recipient (RabbitMQSender
 * with ackRequired, broker-confirmed) → NotifierEvent SUCCESS → dissemination info recorded, for 20,000 products.
 */
export async function benchNotifications(): Promise<Figure> {
  let urns: string[] = []
  const instance = await startInstance('notifier,catalog', async (db, secrets) => {
    urns = await seedProducts(db, NOTIFICATIONS, false)
    await importNotifierConfig(
      db,
      secrets,
      TENANT,
      configFile([
        pluginConf('RabbitMQSender', 'mission-b', { exchange: 'bench.mission-b', queueName: 'bench.mission-b.q', recipientLabel: 'mission-b', ackRequired: true }),
        pluginConf('LuceneRuleMatcher', 'notified', { metadata_rule: 'action:NOTIFIED' }),
        association('notified', ['mission-b']),
      ]),
    )
  })
  const rabbit = new Connection({ url: instance.vhost.url })
  rabbit.on('error', () => {})
  try {
    await waitConsuming(rabbit, 'regards.broadcast.rs-fem.fr.cnes.regards.modules.feature.service.flow.NotificationRequestEventHandler')
    await waitConsuming(rabbit, 'regards.broadcast.rs-notifier.fr.cnes.regards.modules.notifier.service.flow.NotificationRequestEventHandler')
    debug('consumers ready')
    const publisher = rabbit.createPublisher({ confirm: true })
    const started = performance.now()
    await publishAll(urns.length, (i) =>
      publisher.send(
        {
          exchange: FEATURE_NOTIFICATION_EXCHANGE,
          headers: { 'regards.tenant': TENANT, 'regards.request.id': randomUUID(), 'regards.request.owner': 'bench' },
          durable: true,
          contentType: 'application/json',
          priority: 1,
        },
        Buffer.from(JSON.stringify({ urn: urns[i], priority: 'NORMAL' })),
      ),
    )
    debug(`notification requests published in ${Math.round(performance.now() - started)} ms`)
    const done = await until(
      async () => Number((await sql<{ n: number }>`select count(*) as n from catalog_dissemination`.execute(instance.db)).rows[0].n),
      urns.length,
      45_000,
      'disseminations recorded',
    )
    await publisher.close()
    return {
      name: 'catalog.notifications.end_to_end (FeatureNotificationRequestEvent → catalog → notifier → recipient → SUCCESS → dissemination recorded)',
      value: Math.round(urns.length / ((done - started) / 1000)),
      unit: 'notifications/s',
      target: '≥ 2000',
    }
  } finally {
    await rabbit.close()
    await stopInstance(instance)
  }
}

/** The broker alone: messages/s through one REGARDS-declared queue (x-max-priority 255), published and consumed live. */
export async function priorityQueueCeiling(): Promise<Figure> {
  const vhost = await createVhost()
  const rabbit = new Connection({ url: vhost.url })
  rabbit.on('error', () => {})
  try {
    const queue = 'ceiling.regards-queue'
    await rabbit.queueDeclare({ queue, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
    let received = 0
    let finish: () => void = () => {}
    const finished = new Promise<void>((r) => (finish = r))
    const consumer = rabbit.createConsumer({ queue, queueOptions: { passive: true }, qos: { prefetchCount: 500 }, concurrency: 500 }, async () => {
      if (++received === CEILING_MESSAGES) finish()
    })
    await new Promise<void>((r) => consumer.once('ready', () => r()))
    const publisher = rabbit.createPublisher({ confirm: true })
    const body = Buffer.from(JSON.stringify({ urn: featureUrn(TENANT, 'x', 1), recipientLabel: 'mission-b' }))
    const started = performance.now()
    await publishAll(CEILING_MESSAGES, () => publisher.send({ routingKey: queue, durable: true, priority: 0, headers: { 'regards.tenant': TENANT } }, body))
    await finished
    const rate = Math.round(CEILING_MESSAGES / ((performance.now() - started) / 1000))
    await consumer.close()
    await publisher.close()
    return { name: 'broker.regards_queue_ceiling (publish + consume, x-max-priority 255, no database)', value: rate, unit: 'messages/s' }
  } finally {
    await rabbit.close()
    await vhost.drop()
  }
}

/** Herald's code on the database without the broker: an in-process context, messages handed to the batch handlers. */
async function withProcessingContext<T>(fn: (ctx: Ctx, db: Db) => Promise<T>): Promise<T> {
  const storage = await createTestStorage('postgres')
  const { db, close } = await openPostgres(storage.databaseUrl!)
  try {
    await migrateOrThrow(db)
    const config = loadConfig({ HERALD_DATABASE_URL: storage.databaseUrl })
    const ctx = { config, log: createLogger('silent'), db, backend: 'postgres', events: new HeraldEvents(createLogger('silent')), signals: { outbox() {}, deliveries() {}, announceDeliveries() {}, sendNow: () => SEND_NOTHING_NOW, takeConfirmedOutbox: () => NOTHING_TAKEN } } as unknown as Ctx
    return await fn(ctx, db)
  } finally {
    await close()
    await storage.drop()
  }
}

const message = (headers: Record<string, unknown>, body: unknown) => ({ headers, body: Buffer.from(JSON.stringify(body)), redelivered: false }) as unknown as AsyncMessage

/** Acks applied per second by the ack batch handler (batches of 500, as the consumer forms them), no broker. */
export async function benchAckProcessing(): Promise<Figure> {
  return withProcessingContext(async (ctx, db) => {
    const urns = await seedProducts(db, PROCESSING_ACKS, true)
    const started = performance.now()
    for (let i = 0; i < urns.length; i += 500) {
      const batch = urns.slice(i, i + 500).map((urn) => message({ 'regards.tenant': TENANT, 'regards.type': FEATURE_ACK_TYPE }, { urn, recipientLabel: 'mission-b' }))
      await handleAckBatch(ctx, FEATURE_ACK_TYPE, batch, () => {})
    }
    const rate = Math.round(urns.length / ((performance.now() - started) / 1000))
    const pending = await sql<{ n: number }>`select count(*) as n from catalog_product where dissemination_status <> 'DONE'`.execute(db)
    if (Number(pending.rows[0].n) !== 0) throw new Error('not every ack was applied')
    return { name: 'catalog.acks.processing (ack batch handler + PostgreSQL, no broker)', value: rate, unit: 'acks/s', target: '≥ 5000' }
  })
}

/**
 * The catalog's share of a notification, no broker: intake of the FeatureNotificationRequestEvent (GRANTED), the
 * worker pass that sends it, and the NotifierEvent SUCCESS that records its dissemination — batches of 500.
 */
export async function benchNotificationProcessing(): Promise<Figure> {
  return withProcessingContext(async (ctx, db) => {
    const urns = await seedProducts(db, PROCESSING_NOTIFICATIONS, false)
    const ids = urns.map(() => randomUUID())
    const started = performance.now()
    for (let i = 0; i < urns.length; i += 500) {
      const batch = urns.slice(i, i + 500).map((urn, j) => message({ 'regards.tenant': TENANT, 'regards.request.id': ids[i + j], 'regards.request.owner': 'bench' }, { urn, priority: 'NORMAL' }))
      await handleRequestBatch(ctx, REQUEST_SPECS.NOTIFICATION, batch, () => {})
    }
    while ((await processDueRequests(db, TENANT, new Date(), 1000)).sent > 0);
    const date = new Date().toISOString()
    const recipients = [{ label: 'mission-b', status: 'SUCCESS', ackRequired: true, blockingRequired: false }]
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500).map((requestId) => message({ 'regards.tenant': TENANT }, { requestId, requestOwner: 'bench', state: 'SUCCESS', recipients, notificationDate: date }))
      await handleNotifierEventBatch(ctx, batch, () => {})
    }
    const rate = Math.round(urns.length / ((performance.now() - started) / 1000))
    const recorded = await sql<{ n: number }>`select count(*) as n from catalog_dissemination`.execute(db)
    if (Number(recorded.rows[0].n) !== urns.length) throw new Error(`${recorded.rows[0].n}/${urns.length} disseminations recorded`)
    return { name: 'catalog.notifications.processing (intake + send + SUCCESS + dissemination, PostgreSQL, no broker)', value: rate, unit: 'notifications/s', target: '≥ 2000' }
  })
}

/**
 * The catalog figures, about a minute in all (PostgreSQL, Herald in its own process, loopback RabbitMQ): acks and
 * notifications through the broker, the same Herald code without the broker, and the broker's own ceiling for one
 * REGARDS queue on this machine.
 */
export async function benchCatalog(): Promise<Figure[]> {
  const ceiling = await priorityQueueCeiling()
  // An ack is one message through one REGARDS queue: that queue's own ceiling bounds the acks through the broker.
  const acks = { ...(await benchAcks()), reference: ceiling.value, referenceName: 'one REGARDS queue, no database' }
  return [ceiling, acks, await benchAckProcessing(), await benchNotifications(), await benchNotificationProcessing()]
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now()
  benchCatalog().then(
    (figures) => {
      for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.target ? ` (target ${f.target})` : ''}`)
      console.log(`(${Math.round((Date.now() - started) / 1000)} s)`)
      process.exit(0)
    },
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
