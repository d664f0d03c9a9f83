import { BatchConsumer } from '../amqp/consume-batches.ts'
import {
  NOTIFICATION_REQUEST_EXCHANGE,
  NOTIFICATION_REQUEST_QUEUE,
  NOTIFIER_EVENT_EXCHANGE,
  SPECIFIC_RECIPIENT_REQUEST_EXCHANGE,
  SPECIFIC_RECIPIENT_REQUEST_QUEUE,
  declareBroadcastExchange,
  GLOBAL_DLQ,
  declareConsumerTopology,
} from '../amqp/topology.ts'
import type { Ctx } from '../context.ts'
import { CatalogWorker } from './catalog-worker.ts'
import { handleAckBatch } from './handle-acks.ts'
import { handleNotifierEventBatch } from './handle-notifier-events.ts'
import { REQUEST_SPECS, handleRequestBatch } from './intake.ts'
import {
  CATALOG_NOTIFIER_EVENT_QUEUE,
  FEATURE_ACK_EXCHANGE,
  FEATURE_ACK_QUEUE,
  FEATURE_ACK_TYPE,
  FEATURE_CREATION_EXCHANGE,
  FEATURE_CREATION_QUEUE,
  FEATURE_DELETION_EXCHANGE,
  FEATURE_DELETION_QUEUE,
  FEATURE_NOTIFICATION_EXCHANGE,
  FEATURE_NOTIFICATION_QUEUE,
  FEATURE_REQUEST_EVENT_EXCHANGE,
  FEATURE_UPDATE_EXCHANGE,
  FEATURE_UPDATE_QUEUE,
  INGEST_ACK_EXCHANGE,
  INGEST_ACK_QUEUE,
  INGEST_ACK_TYPE,
} from './topology.ts'

/**
 * Starts the catalog role: the consumers of the notifier's responses, of the two acknowledgement exchanges
 * and of the FEM request queues, then the worker (processing and sending due requests). The catalog talks to the
 * notifier over AMQP only, as rs-fem does, so it works as well with a REGARDS notifier. Returns the stopper:
 * consumers first (their batches finish), then the worker.
 *
 * @example
 * const stopCatalog = await startCatalog(ctx)
 * // … later
 * await stopCatalog()
 */
export async function startCatalog(ctx: Ctx): Promise<() => Promise<void>> {
  const rabbit = ctx.broker.connection
  const topology = [
    // The outbox publishes to these: they must exist even when no notifier runs on this broker yet.
    declareBroadcastExchange(rabbit, FEATURE_REQUEST_EVENT_EXCHANGE),
    declareBroadcastExchange(rabbit, NOTIFIER_EVENT_EXCHANGE),
    // The notifier's intake queues too, with rs-notifier's own arguments: on a first start before any notifier, what
    // the catalog sends waits in them instead of being dropped by an exchange with no queue bound.
    declareConsumerTopology(rabbit, NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE),
    declareConsumerTopology(rabbit, SPECIFIC_RECIPIENT_REQUEST_EXCHANGE, SPECIFIC_RECIPIENT_REQUEST_QUEUE),
  ]
  const worker = new CatalogWorker(ctx)
  const wake = () => worker.notify()
  const consumer = (
    exchange: string,
    queue: string,
    handler: (messages: Parameters<typeof handleAckBatch>[2]) => ReturnType<typeof handleAckBatch>,
    deadLetterRoutingKey?: string,
  ) =>
    new BatchConsumer(ctx.broker, {
      exchange,
      queue,
      deadLetterRoutingKey,
      batchSize: ctx.config.intakeBatchSize,
      prefetch: ctx.config.intakePrefetch,
      log: ctx.log,
      handler,
      onDeadLetter: (reason) => ctx.events.safeEmit('message:dead-lettered', { queue, reason }),
    })
  // Order matters on a first start: the NotifierEvent queue must be bound before anything is sent to the notifier
  // (a fanout exchange drops what no queue is bound to), and the worker, which sends, starts last.
  const consumers = [
    // rs-fem's NotificationEventHandler and rs-ingest's DisseminationAckHandler queues dead-letter to the
    // global regards.DLQ in REGARDS: same arguments here, so both can declare them.
    consumer(NOTIFIER_EVENT_EXCHANGE, CATALOG_NOTIFIER_EVENT_QUEUE, (m) => handleNotifierEventBatch(ctx, m, wake), GLOBAL_DLQ),
    consumer(FEATURE_ACK_EXCHANGE, FEATURE_ACK_QUEUE, (m) => handleAckBatch(ctx, FEATURE_ACK_TYPE, m, wake)),
    consumer(INGEST_ACK_EXCHANGE, INGEST_ACK_QUEUE, (m) => handleAckBatch(ctx, INGEST_ACK_TYPE, m, wake), GLOBAL_DLQ),
    consumer(FEATURE_CREATION_EXCHANGE, FEATURE_CREATION_QUEUE, (m) => handleRequestBatch(ctx, REQUEST_SPECS.CREATION, m, wake)),
    consumer(FEATURE_UPDATE_EXCHANGE, FEATURE_UPDATE_QUEUE, (m) => handleRequestBatch(ctx, REQUEST_SPECS.PATCH, m, wake)),
    consumer(FEATURE_DELETION_EXCHANGE, FEATURE_DELETION_QUEUE, (m) => handleRequestBatch(ctx, REQUEST_SPECS.DELETION, m, wake)),
    consumer(FEATURE_NOTIFICATION_EXCHANGE, FEATURE_NOTIFICATION_QUEUE, (m) => handleRequestBatch(ctx, REQUEST_SPECS.NOTIFICATION, m, wake)),
  ]
  const started: BatchConsumer[] = []
  let workerStarted = false
  const stop = async () => {
    for (const c of started.reverse()) await c.stop()
    if (workerStarted) await worker.stop()
  }
  try {
    // Everything declared at once (each declaration is a round trip, a new priority queue ~0.5 s of the broker's
    // time), and all of it before the worker sends anything.
    const declared = await Promise.allSettled([
      ...topology,
      ...consumers.map(async (c) => {
        await c.start()
        started.push(c)
      }),
    ])
    const failed = declared.find((d) => d.status === 'rejected')
    if (failed) throw failed.reason
    worker.start()
    workerStarted = true
  } catch (err) {
    await stop()
    throw err
  }
  ctx.log.info({ queues: consumers.length }, 'catalog started')
  return stop
}
