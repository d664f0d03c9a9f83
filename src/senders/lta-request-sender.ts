import { P } from '../plugins/declaration.ts'
import { amqpTargetFrom, declareAmqpRecipient, defineAmqpSender, permanentFailure, type Built } from './amqp-delivery.ts'
import { computeSessionNameAndOwner, primitiveText } from './session-name.ts'
import type { DeliveryItem } from './sender.ts'
import { missingSession, SESSION_PARAMETERS } from './worker-manager-sender.ts'

export const LTA_REQUEST_SENDER = declareAmqpRecipient({
  pluginId: 'LtaRequestSender',
  description: 'Submits each GeoJSON feature to the LTA manager as a SubmissionRequestDto (REGARDS LtaRequestSender).',
  parameters: {
    dataType: P.string('datatype of the submission.', { label: 'Data type' }),
    replaceMode: P.boolean('Behaviour when the product already exists in the LTA: replace it.', { label: 'Replace mode' }),
    ...SESSION_PARAMETERS,
  },
})

/** LTA manager `LtaDataType`: the feature file's dataType when it is one of these, else RAWDATA. */
const LTA_DATA_TYPES = new Set(['ZIP', 'RAWDATA', 'QUICKLOOK_SD', 'QUICKLOOK_MD', 'QUICKLOOK_HD', 'DOCUMENT', 'THUMBNAIL', 'OTHER', 'AIP', 'DESCRIPTION'])

const asObject = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined

/** LTA `ProductFileDto` list from the GeoJSON feature's `files`, or the reason it cannot be built. */
export function productFiles(payload: Record<string, unknown>): { files: Record<string, unknown>[] } | { error: string } {
  const files = Array.isArray(payload.files) ? payload.files : []
  if (files.length === 0) return { error: `feature ${JSON.stringify(payload.id)} has no files: an LTA submission needs at least one` }
  const out: Record<string, unknown>[] = []
  for (const [i, file] of files.entries()) {
    const attributes = asObject(asObject(file)?.attributes) ?? {}
    const locations = asObject(file)?.locations
    const url = Array.isArray(locations) ? primitiveText(asObject(locations[0])?.url) : undefined
    if (url === undefined) return { error: `file ${i} (${JSON.stringify(attributes.filename)}) of feature ${JSON.stringify(payload.id)} has no location url` }
    const dataType = primitiveText(attributes.dataType)
    // Gson field order of ProductFileDto; absent fields are omitted, as Gson omits nulls.
    out.push({
      type: dataType && LTA_DATA_TYPES.has(dataType) ? dataType : 'RAWDATA',
      url,
      filename: attributes.filename,
      checksum: attributes.checksum,
      mimeType: attributes.mimeType,
    })
  }
  return { files: out }
}

/**
 * Submits each GeoJSON feature to the LTA manager (LtaRequestSender 1.0.0): one raw message per request, body = the LTA `SubmissionRequestDto`, headers
 * `regards.request.id` (the notifier's request id), `regards.tenant`, `regards.request.owner`.
 *
 * Herald improves on REGARDS where a bad product failed the whole batch: in REGARDS the DTO constructor
 * throws on a feature without files (or without id), the exception escapes `send`, and every request of
 * the batch is reported in error for this recipient. Here such a request is that item's permanent failure
 * and the other products of the batch are submitted. A feature without `urn` is submitted without
 * `originUrn` (REGARDS threw on it as well).
 */
export const ltaRequestSender = defineAmqpSender({
  declaration: LTA_REQUEST_SENDER,
  builder(values) {
    const target = amqpTargetFrom(values)
    const { dataType, replaceMode, sessionNamePattern, recipientTenant } = values
    return (item: DeliveryItem): Built => {
      const { payload } = item
      const productId = primitiveText(payload.id)
      if (productId === undefined) return permanentFailure('LTA_INVALID_PRODUCT', 'the payload has no id: an LTA submission needs a productId')
      const files = productFiles(payload)
      if ('error' in files) return permanentFailure('LTA_INVALID_PRODUCT', files.error)
      const tenant = recipientTenant ?? item.tenant
      const { sessionOwner, session } = computeSessionNameAndOwner(item, sessionNamePattern, tenant)
      if (sessionOwner === undefined || session === undefined) return missingSession(sessionOwner, session)
      const submission = {
        correlationId: item.requestId,
        productId,
        datatype: dataType,
        geometry: payload.geometry ?? undefined,
        files: files.files,
        tags: [],
        originUrn: primitiveText(payload.urn),
        properties: payload.properties ?? undefined,
        session,
        replaceMode,
      }
      return {
        target,
        message: {
          headers: { 'regards.request.id': item.requestId, 'regards.tenant': tenant, 'regards.request.owner': sessionOwner },
          body: JSON.stringify(submission),
          contentType: 'application/json',
          priority: 0,
        },
      }
    }
  },
})
