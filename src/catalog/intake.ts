import type { AsyncMessage } from 'rabbitmq-client'
import type { MessageOutcome } from '../amqp/consume-batches.ts'
import { runIntakePipeline } from '../amqp/intake-pipeline.ts'
import type { Ctx } from '../context.ts'
import { checkCreations, validateCreation } from './creation-requests.ts'
import { checkDeletions, validateDeletion } from './deletion-requests.ts'
import type { FeatureRequestType } from './feature-request-event.ts'
import { checkNotifications, validateNotification } from './notification-requests.ts'
import { parseFemEnvelope, type FemEnvelope } from './parse-fem-message.ts'
import { checkPatches, validatePatch } from './patch-requests.ts'
import { registerRequests, type CatalogCheck, type Candidate, type Denial, type Registration } from './register-requests.ts'

/** How each FEM request type is validated and checked against the catalog. */
export interface RequestSpec {
  type: FeatureRequestType
  validate: (env: Extract<FemEnvelope, { kind: 'request' }>) => Candidate | Denial
  check: CatalogCheck
}

export const REQUEST_SPECS: Record<FeatureRequestType, RequestSpec> = {
  CREATION: { type: 'CREATION', validate: validateCreation, check: checkCreations },
  PATCH: { type: 'PATCH', validate: validatePatch, check: checkPatches },
  DELETION: { type: 'DELETION', validate: validateDeletion, check: checkDeletions },
  NOTIFICATION: { type: 'NOTIFICATION', validate: validateNotification, check: checkNotifications },
}

/**
 * The batch handler of the four FEM request queues, through the intake pipeline (amqp/intake-pipeline.ts):
 * envelopes and bodies are checked in memory, then each tenant's share is registered in its own transaction
 * (one failing tenant never holds back another), answers in the outbox; the worker is woken to process what is
 * due. Messages are acked after the commit.
 */
export function handleRequestBatch(ctx: Ctx, spec: RequestSpec, messages: AsyncMessage[], wakeWorker: () => void): Promise<MessageOutcome[]> {
  const now = new Date()
  return runIntakePipeline<Candidate | Denial, Registration>(ctx, messages, {
    read(msg) {
      const env = parseFemEnvelope(msg, { tenants: ctx.config.tenants, maxMessageBytes: ctx.config.maxMessageBytes, now })
      if (env.kind === 'dead-letter') return { deadLetter: env.reason }
      if (env.kind === 'unknown-tenant') {
        ctx.log.warn({ tenant: env.tenant, type: spec.type }, 'request for a tenant this Herald does not serve: acked and ignored')
        ctx.events.safeEmit('request:ignored', { tenant: env.tenant, reason: 'unknown-tenant' })
        return { ignored: true }
      }
      const item: Candidate | Denial =
        env.kind === 'denied' ? { denied: true, requestId: env.requestId, requestOwner: env.requestOwner, errors: env.errors } : spec.validate(env)
      return { tenant: env.tenant, item }
    },
    apply: (tx, tenant, items) => registerRequests(tx, tenant, spec.type, items, spec.check),
    report(tenant, reg) {
      const log = ctx.log.child({ tenant, type: spec.type })
      for (const d of reg.denied) {
        log.warn({ requestId: d.requestId, errors: d.errors }, 'catalog request DENIED')
        ctx.events.safeEmit('request:denied', { tenant, reason: d.errors[0] ?? 'denied' })
      }
      for (const requestId of reg.ignored) {
        log.info({ requestId }, 'redelivered request already registered: ignored')
        ctx.events.safeEmit('request:ignored', { tenant, reason: 'redelivered' })
      }
      if (reg.granted.length > 0) wakeWorker()
    },
  })
}
