import { randomUUID } from 'node:crypto'
import { amqpTargetFrom, DeclaredTopology, misconfiguredSender, permanentFailure, publishBuilt, validateAmqpTarget, type Built } from './amqp-delivery.ts'
import { computeSessionNameAndOwner } from './session-name.ts'
import {
  commonRecipientInfo,
  stringParam,
  validateCommon,
  type DeliveryItem,
  type Parameters,
  type Sender,
  type SenderPlugin,
} from './sender.ts'

/**
 * Hands each product to the REGARDS worker manager (WorkerManagerSender 1.0.0, reference/regards-notifier.md
 * §5.3): one raw message per request whose body is the payload JSON, with the worker-manager request
 * headers. The documented exchange is
 * `regards.broadcast.fr.cnes.regards.modules.workermanager.dto.events.in.RequestEvent`.
 *
 * `regards.request.id` is a new UUID per message, as in REGARDS (the worker manager's own request id,
 * not the notifier's). A request whose session cannot be named (no `sessionNamePattern` and no
 * `metadata.sessionOwner`/`metadata.session`) fails on its own, permanently: the worker manager would
 * refuse it, and REGARDS failed the whole batch on it.
 */
export const workerManagerSender: SenderPlugin = {
  pluginId: 'WorkerManagerSender',
  validate(params: Parameters): string[] {
    const errors = [...validateCommon(params), ...validateAmqpTarget(params)]
    if (!stringParam(params, 'contentType')) errors.push('parameter contentType is mandatory')
    return errors
  },
  describe: (params) => commonRecipientInfo(params, 'Rabbit MQ sender'),
  create(params, ctx): Sender {
    const problems = workerManagerSender.validate(params)
    if (problems.length > 0) return misconfiguredSender(problems)
    const target = amqpTargetFrom(params)
    const contentType = stringParam(params, 'contentType')!
    const sessionNamePattern = stringParam(params, 'sessionNamePattern')
    const recipientTenant = stringParam(params, 'recipientTenant')
    const topology = new DeclaredTopology(ctx.broker)
    const build = (item: DeliveryItem): Built => {
      const tenant = recipientTenant ?? item.tenant
      const { sessionOwner, session } = computeSessionNameAndOwner(item, sessionNamePattern, tenant)
      if (sessionOwner === undefined || session === undefined) return missingSession(sessionOwner, session)
      return {
        target,
        message: {
          headers: {
            'regards.tenant': tenant,
            'regards.request.content_type': contentType,
            'regards.request.owner': sessionOwner,
            'regards.request.session': session,
            'regards.request.id': randomUUID(),
          },
          body: JSON.stringify(item.payload),
          contentType: 'application/json',
          priority: 0,
        },
      }
    }
    return { send: (items) => publishBuilt(ctx, topology, items, build) }
  },
}

export function missingSession(sessionOwner: string | undefined, session: string | undefined): Built {
  const missing = [sessionOwner === undefined ? 'metadata.sessionOwner' : undefined, session === undefined ? 'metadata.session' : undefined].filter(Boolean)
  return permanentFailure('SESSION_MISSING', `no ${missing.join(' nor ')} in the request and no sessionNamePattern configured: cannot name the session`)
}
