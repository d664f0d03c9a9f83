import { randomUUID } from 'node:crypto'
import { P } from '../plugins/declaration.ts'
import { amqpTargetFrom, declareAmqpRecipient, defineAmqpSender, permanentFailure, type Built } from './amqp-delivery.ts'
import { computeSessionNameAndOwner } from './session-name.ts'
import type { DeliveryItem } from './sender.ts'

/** Shared with LtaRequestSender (REGARDS AbstractWorkerManagerSender and SessionUtils). */
export const SESSION_PARAMETERS = {
  sessionNamePattern: P.optional(P.string('{<jsonPath>}-#day<suffix>: session named from the payload and the date; unset: metadata.sessionOwner and metadata.session.', { label: 'Session name pattern' })),
  recipientTenant: P.optional(P.string('Tenant written in regards.tenant; unset: the request\'s tenant.', { label: 'Recipient tenant' })),
}

export const WORKER_MANAGER_SENDER = declareAmqpRecipient({
  pluginId: 'WorkerManagerSender',
  description: 'Hands each product (the payload JSON) to the REGARDS worker manager as a request (REGARDS WorkerManagerSender).',
  parameters: {
    contentType: P.string('Header regards.request.content_type: selects the worker.', { label: 'Content type' }),
    ...SESSION_PARAMETERS,
  },
})

/**
 * Hands each product to the REGARDS worker manager (WorkerManagerSender 1.0.0): one raw message per request whose body is the payload JSON, with the worker-manager request
 * headers. The documented exchange is
 * `regards.broadcast.fr.cnes.regards.modules.workermanager.dto.events.in.RequestEvent`.
 *
 * `regards.request.id` is a new UUID per message, as in REGARDS (the worker manager's own request id,
 * not the notifier's). A request whose session cannot be named (no `sessionNamePattern` and no
 * `metadata.sessionOwner`/`metadata.session`) fails on its own, permanently: the worker manager would
 * refuse it, and REGARDS failed the whole batch on it.
 */
export const workerManagerSender = defineAmqpSender({
  declaration: WORKER_MANAGER_SENDER,
  builder(values) {
    const target = amqpTargetFrom(values)
    const { contentType, sessionNamePattern, recipientTenant } = values
    return (item: DeliveryItem): Built => {
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
  },
})

export function missingSession(sessionOwner: string | undefined, session: string | undefined): Built {
  const missing = [sessionOwner === undefined ? 'metadata.sessionOwner' : undefined, session === undefined ? 'metadata.session' : undefined].filter(Boolean)
  return permanentFailure('SESSION_MISSING', `no ${missing.join(' nor ')} in the request and no sessionNamePattern configured: cannot name the session`)
}
