import { eventHeaders, toGsonJson } from '../amqp/envelope.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import { FEATURE_REQUEST_EVENT_EXCHANGE, FEATURE_REQUEST_EVENT_TYPE } from './topology.ts'

/** `FeatureRequestType` values used on the wire. */
export type FeatureRequestType = 'CREATION' | 'PATCH' | 'DELETION' | 'NOTIFICATION'
export type FeatureRequestState = 'GRANTED' | 'DENIED' | 'SUCCESS' | 'ERROR'

export interface FeatureRequestEventInput {
  tenant: string
  type: FeatureRequestType
  requestId: string | undefined
  requestOwner: string | undefined
  /** The feature's provider id (never for NOTIFICATION). */
  id?: string
  urn?: string
  state: FeatureRequestState
  errors?: string[]
}

/**
 * A `FeatureRequestEvent` for the outbox: Gson body `{type, requestId, requestOwner, id, urn,
 * state, errors}` with nulls omitted, headers `regards.tenant`, `regards.type`, `regards.converter`, priority 1.
 */
export function featureRequestEvent(input: FeatureRequestEventInput): OutboxEvent {
  const body = toGsonJson({
    type: input.type,
    requestId: input.requestId,
    requestOwner: input.requestOwner,
    id: input.id,
    urn: input.urn,
    state: input.state,
    errors: input.errors && input.errors.length > 0 ? input.errors : undefined,
  })
  return { exchange: FEATURE_REQUEST_EVENT_EXCHANGE, headers: eventHeaders(input.tenant, FEATURE_REQUEST_EVENT_TYPE), body, priority: 1 }
}

/** REGARDS error strings (ErrorTranslator): field errors end with `at <field>: rejected value [null].` */
export const FEM_ERRORS = {
  missingRequestId: '[missing.request.id.header] Missing request id header',
  missingRequestOwner: '[missing.request.owner.header] Missing request owner header',
  requestIdExists: '[request.requestId.exists.error.message] Request id already exists at requestId: rejected value [null].',
  featureToNotifyUnknown: '[request.urn.feature.does.not.exists] Feature to notify does not exists at urn: rejected value [null].',
  featureUnknown: '[request.urn.feature.does.not.exists] Feature does not exists at urn: rejected value [null].',
  alreadyDeleted: 'Feature already deleted. Skipping silently!',
  notificationError: 'Notification error',
} as const
