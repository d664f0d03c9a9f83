import { eventHeaders, formatDate, toGsonJson } from '../amqp/envelope.ts'
import { NOTIFIER_EVENT_EXCHANGE, NOTIFIER_EVENT_TYPE } from '../amqp/topology.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'

export type NotificationState = 'DENIED' | 'GRANTED' | 'TO_SCHEDULE_BY_RECIPIENT' | 'SUCCESS' | 'ERROR'

/** `NotifierEvent.recipients[]` (REGARDS `Recipient`). */
export interface EventRecipient {
  label: string
  status: 'SUCCESS' | 'ERROR'
  ackRequired: boolean
  blockingRequired: boolean
}

export interface NotifierEventInput {
  tenant: string
  requestId: string | undefined
  requestOwner: string | undefined
  state: NotificationState
  recipients?: EventRecipient[]
  notificationDate: Date
  /** Herald addition: why a request was DENIED or ended in ERROR. REGARDS clients ignore unknown fields. */
  errors?: string[]
}

/**
 * A `NotifierEvent` ready for the outbox: REGARDS headers, Gson JSON in declaration order
 * (`requestId, requestOwner, state, recipients, notificationDate`), nulls omitted, priority 1.
 */
export function notifierEvent(input: NotifierEventInput): OutboxEvent {
  const body = toGsonJson({
    requestId: input.requestId,
    requestOwner: input.requestOwner,
    state: input.state,
    recipients: input.recipients ?? [],
    notificationDate: formatDate(input.notificationDate),
    errors: input.errors && input.errors.length > 0 ? input.errors : undefined,
  })
  return { exchange: NOTIFIER_EVENT_EXCHANGE, headers: eventHeaders(input.tenant, NOTIFIER_EVENT_TYPE), body, priority: 1 }
}
