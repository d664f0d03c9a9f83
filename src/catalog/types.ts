/**
 * Catalog glossary.
 *
 * - **product**: a GeoJSON feature (`URN:FEATURE:…`, rs-fem) or an AIP record (`URN:AIP:…`, rs-ingest), one row
 *   of `catalog_product`, identified by (tenant, urn).
 * - **request**: a FEM request (CREATION, PATCH, DELETION, NOTIFICATION) or an AIP dissemination, identified by
 *   the client's `regards.request.id`. It is answered with `FeatureRequestEvent`s (GRANTED/DENIED, then
 *   SUCCESS/ERROR) and lives in `catalog_request` until it succeeds.
 * - **step**: where a request is: `LOCAL_DELAYED` (to process, once its request date has come),
 *   `LOCAL_TO_BE_NOTIFIED` (to send to the notifier, once due), `REMOTE_NOTIFICATION_REQUESTED` (sent, waiting
 *   for the NotifierEvent), `WAITING_BLOCKING_DISSEMINATION` (a deletion blocked by an unacknowledged blocking
 *   dissemination), and the error steps `REMOTE_NOTIFICATION_ERROR` and `LOCAL_ERROR`.
 * - **dissemination info**: one product × recipient label: `{label, requestDate, ackDate, blocking}`, written when
 *   the notifier reports SUCCESS (a PUT) and acknowledged by a `DisseminationAckEvent` (an ACK).
 * - **dissemination status**: NONE (no info), PENDING (an info waits for its ack), DONE (all acknowledged).
 */

export const REQUEST_TYPES = ['CREATION', 'PATCH', 'DELETION', 'NOTIFICATION', 'AIP_DISSEMINATION'] as const
export type RequestType = (typeof REQUEST_TYPES)[number]
export type RequestState = 'GRANTED' | 'ERROR'
export type RequestStep =
  | 'LOCAL_DELAYED'
  | 'LOCAL_TO_BE_NOTIFIED'
  | 'REMOTE_NOTIFICATION_REQUESTED'
  | 'REMOTE_NOTIFICATION_ERROR'
  | 'WAITING_BLOCKING_DISSEMINATION'
  | 'LOCAL_ERROR'

export type DisseminationStatus = 'NONE' | 'PENDING' | 'DONE'
export const DISSEMINATION_STATUSES: readonly DisseminationStatus[] = ['NONE', 'PENDING', 'DONE']

/** REGARDS `PriorityLevel`: LOW(0), NORMAL(1), HIGH(2); stored as the ordinal so `order by priority desc` works. */
export const PRIORITY_LEVELS = { LOW: 0, NORMAL: 1, HIGH: 2 } as const
export type PriorityLevel = keyof typeof PRIORITY_LEVELS
export const priorityName = (value: number): PriorityLevel => (value >= 2 ? 'HIGH' : value <= 0 ? 'LOW' : 'NORMAL')

/** `FeatureManagementAction` for features, `RequestTypeConstant` values for AIPs. */
export type NotificationAction = 'CREATED' | 'UPDATED' | 'DELETED' | 'ALREADY_DELETED' | 'NOTIFIED' | 'AIP_DISSEMINATION'

/** `FeatureDisseminationInfoDto`, dates in Gson form. */
export interface DisseminationInfoDto {
  label: string
  requestDate: string
  ackDate?: string
  blocking: boolean
}
