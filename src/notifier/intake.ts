import type { AsyncMessage } from 'rabbitmq-client'
import { BatchConsumer, type MessageOutcome } from '../amqp/consume-batches.ts'
import { runIntakePipeline } from '../amqp/intake-pipeline.ts'
import {
  NOTIFICATION_REQUEST_EXCHANGE,
  NOTIFICATION_REQUEST_QUEUE,
  SPECIFIC_RECIPIENT_REQUEST_EXCHANGE,
  SPECIFIC_RECIPIENT_REQUEST_QUEUE,
} from '../amqp/topology.ts'
import type { Ctx } from '../context.ts'
import { parseRequestMessage, type ParsedMessage } from './parse-request.ts'
import { reportCompletion } from './complete-requests.ts'
import { registerRequests, type Registration } from './register-requests.ts'
import type { SendNow } from './send-now.ts'
import type { TenantConfig } from './tenant-config.ts'

/**
 * Consumes NotificationRequestEvent (rule mode) and SpecificRecipientNotificationRequestEvent (direct
 * mode) from rs-notifier's queues, through the intake pipeline (amqp/intake-pipeline.ts): one transaction per
 * tenant, so a failing tenant never holds back another; messages are acked after the commit.
 */
export function createIntakeConsumers(ctx: Ctx): BatchConsumer[] {
  return [
    { exchange: NOTIFICATION_REQUEST_EXCHANGE, queue: NOTIFICATION_REQUEST_QUEUE, direct: false },
    { exchange: SPECIFIC_RECIPIENT_REQUEST_EXCHANGE, queue: SPECIFIC_RECIPIENT_REQUEST_QUEUE, direct: true },
  ].map(
    ({ exchange, queue, direct }) =>
      new BatchConsumer(ctx.broker, {
        exchange,
        queue,
        batchSize: ctx.config.intakeBatchSize,
        prefetch: ctx.config.intakePrefetch,
        log: ctx.log,
        handler: (messages) => handleIntakeBatch(ctx, queue, direct, messages),
        onDeadLetter: (reason) => ctx.events.safeEmit('message:dead-lettered', { queue, reason }),
      }),
  )
}

type Incoming = Extract<ParsedMessage, { kind: 'request' | 'denied' }>

export function handleIntakeBatch(ctx: Ctx, queue: string, direct: boolean, messages: AsyncMessage[]): Promise<MessageOutcome[]> {
  const now = new Date()
  return runIntakePipeline<Incoming, Registration, { config: TenantConfig; sendNow: SendNow }>(ctx, messages, {
    read(msg) {
      const parsed = parseRequestMessage(msg, { direct, tenants: ctx.config.tenants, maxMessageBytes: ctx.config.maxMessageBytes, now })
      if (parsed.kind === 'dead-letter') return { deadLetter: parsed.reason }
      if (parsed.kind === 'unknown-tenant') {
        ctx.log.warn({ tenant: parsed.tenant, queue }, 'message for a tenant this Herald does not serve: acked and ignored')
        ctx.events.safeEmit('request:ignored', { tenant: parsed.tenant, reason: 'unknown-tenant' })
        return { ignored: true }
      }
      ctx.events.safeEmit('request:received', { tenant: parsed.tenant, queue })
      return { tenant: parsed.tenant, item: parsed }
    },
    prepare: async (tenant) => ({ config: await ctx.configCache.get(tenant), sendNow: ctx.signals.sendNow() }),
    apply: (tx, tenant, items, { config, sendNow }) => registerRequests(tx, tenant, items, direct, config, now, { instanceId: ctx.instanceId, slots: sendNow }),
    failed: (_tenant, { sendNow }) => sendNow.cancel(),
    report(tenant, reg, { sendNow }) {
      // First: the deliveries claimed in the transaction are on their way before the logs are written.
      sendNow.send(reg.sending)
      const log = ctx.log.child({ tenant })
      for (const d of reg.denied) {
        log.warn({ requestId: d.requestId, reason: d.reason }, 'request DENIED')
        ctx.events.safeEmit('request:denied', { tenant, reason: d.reason })
      }
      for (const ignored of reg.ignored) {
        log.warn({ requestId: ignored.requestId, reason: ignored.reason }, 'request ignored')
        ctx.events.safeEmit('request:ignored', { tenant, reason: ignored.reason })
      }
      for (const e of reg.ruleErrors) {
        log.error({ rule: e.rule, error: e.error }, 'rule could not be evaluated')
        ctx.events.safeEmit('request:rule-error', { tenant, rule: e.rule })
      }
      if (reg.granted + reg.retried > 0) ctx.events.safeEmit('request:granted', { tenant, direct, count: reg.granted + reg.retried })
      reportCompletion(ctx, tenant, reg.completion)
      // A retry put deliveries back to PENDING outside SendNow's grants: a backlog this worker must hear of
      // too. New deliveries left PENDING were marked by SendNow itself; only the other instances are told.
      if (reg.retried > 0) ctx.signals.deliveries()
      else if (reg.deliveries > reg.sentNow) ctx.signals.announceDeliveries()
    },
  })
}
