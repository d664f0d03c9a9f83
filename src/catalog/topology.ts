import { broadcastExchange } from '../amqp/topology.ts'

/**
 * rs-fem and rs-ingest AMQP names. Herald's catalog
 * consumes on the queues of the REGARDS handlers it replaces, so a REGARDS deployment's queues are reused.
 */
const FEM_IN = 'fr.cnes.regards.modules.feature.dto.event.in'
const FEM_FLOW = 'regards.broadcast.rs-fem.fr.cnes.regards.modules.feature.service.flow'

export const FEATURE_CREATION_TYPE = `${FEM_IN}.FeatureCreationRequestEvent`
export const FEATURE_UPDATE_TYPE = `${FEM_IN}.FeatureUpdateRequestEvent`
export const FEATURE_DELETION_TYPE = `${FEM_IN}.FeatureDeletionRequestEvent`
export const FEATURE_NOTIFICATION_TYPE = `${FEM_IN}.FeatureNotificationRequestEvent`
export const FEATURE_ACK_TYPE = `${FEM_IN}.DisseminationAckEvent`
export const INGEST_ACK_TYPE = 'fr.cnes.regards.modules.ingest.dto.request.event.DisseminationAckEvent'
export const FEATURE_REQUEST_EVENT_TYPE = 'fr.cnes.regards.modules.feature.dto.event.out.FeatureRequestEvent'

export const FEATURE_CREATION_EXCHANGE = broadcastExchange(FEATURE_CREATION_TYPE)
export const FEATURE_UPDATE_EXCHANGE = broadcastExchange(FEATURE_UPDATE_TYPE)
export const FEATURE_DELETION_EXCHANGE = broadcastExchange(FEATURE_DELETION_TYPE)
export const FEATURE_NOTIFICATION_EXCHANGE = broadcastExchange(FEATURE_NOTIFICATION_TYPE)
export const FEATURE_ACK_EXCHANGE = broadcastExchange(FEATURE_ACK_TYPE)
export const INGEST_ACK_EXCHANGE = broadcastExchange(INGEST_ACK_TYPE)
export const FEATURE_REQUEST_EVENT_EXCHANGE = broadcastExchange(FEATURE_REQUEST_EVENT_TYPE)

export const FEATURE_CREATION_QUEUE = `${FEM_FLOW}.FeatureCreationRequestEventHandler`
export const FEATURE_UPDATE_QUEUE = `${FEM_FLOW}.FeatureUpdateRequestEventHandler`
export const FEATURE_DELETION_QUEUE = `${FEM_FLOW}.FeatureDeletionRequestEventHandler`
export const FEATURE_NOTIFICATION_QUEUE = `${FEM_FLOW}.NotificationRequestEventHandler`
export const FEATURE_ACK_QUEUE = `${FEM_FLOW}.FeatureDisseminationResponseHandler`
export const INGEST_ACK_QUEUE = 'regards.broadcast.rs-ingest.fr.cnes.regards.modules.ingest.service.aip.DisseminationAckHandler'
/** rs-fem's subscription to the notifier's responses (the `NotificationEventHandler` of the notifier client). */
export const CATALOG_NOTIFIER_EVENT_QUEUE = 'regards.broadcast.rs-fem.fr.cnes.regards.modules.notifier.client.NotificationEventHandler'

/** The request header of FEM patches (`regards.request.file_update_mode`): REPLACE or APPEND. */
export const HEADER_FILE_UPDATE_MODE = 'regards.request.file_update_mode'
/** Spring AMQP's type header, read before `regards.type` by the REGARDS listener. */
export const HEADER_TYPE_ID = '__TypeId__'
