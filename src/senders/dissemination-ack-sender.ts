import { Type } from 'typebox'
import { GLOBAL_DLQ } from '../amqp/topology.ts'
import { declarePlugin, P, type ParameterValues } from '../plugins/declaration.ts'
import { defineAmqpSender, permanentFailure, type AmqpTarget, type Built } from './amqp-delivery.ts'
import { POLICY_PARAMETERS } from './policy.ts'
import { primitiveText } from './session-name.ts'
import { mayPublishAs, otherTenantReason } from './tenant-boundary.ts'
import { commonRecipientInfo, reportingParameters, type DeliveryItem, type RecipientInfo } from './sender.ts'

export const FEATURE_ACK_TYPE = 'fr.cnes.regards.modules.feature.dto.event.in.DisseminationAckEvent'
export const AIP_ACK_TYPE = 'fr.cnes.regards.modules.ingest.dto.request.event.DisseminationAckEvent'

/** REGARDS UniformResourceName.URN_PATTERN, matched in full. */
const URN_PATTERN = /^URN:[^:]+:[^:]+:[^:]+:[^:]+:(V\d{1,3}|LAST)(,\d+)?(:REV.+)?$/

/** `FEATURE` for a FEM feature, `OAIS` for an AIP/SIP/DIP, undefined for anything else. */
export function urnKind(urn: string): 'FEATURE' | 'OAIS' | undefined {
  if (!URN_PATTERN.test(urn)) return undefined
  const identifier = urn.split(':')[1]
  if (identifier === 'FEATURE') return 'FEATURE'
  if (identifier === 'AIP' || identifier === 'SIP' || identifier === 'DIP') return 'OAIS'
  return undefined
}

/** The tenant segment (4th) of a valid URN. */
export const urnTenant = (urn: string): string => urn.split(':')[3]

/**
 * The origin URN of a notified product: the dot path `propertyPathToUrn` when configured (no fallback),
 * else the FEM feature's `urn`, else the ingest AIP's `originUrn`.
 */
export function originUrn(payload: Record<string, unknown>, propertyPathToUrn: string | undefined): string | undefined {
  if (propertyPathToUrn) {
    let current: unknown = payload
    for (const key of propertyPathToUrn.split('.')) {
      current = current !== null && typeof current === 'object' && !Array.isArray(current) ? (current as Record<string, unknown>)[key] : undefined
    }
    return primitiveText(current)
  }
  return primitiveText(payload.urn) ?? primitiveText(payload.originUrn)
}

// REGARDS' plugin has no ackRequired nor blockingRequired parameter: it reports both false.
export const DISSEMINATION_ACK_SENDER = declarePlugin({
  pluginId: 'DisseminationAckSender',
  kind: 'RECIPIENT',
  version: '2.0.0',
  author: 'Herald',
  description: 'Acknowledges each notified product to the catalog it came from with a DisseminationAckEvent (REGARDS DisseminationAckSender).',
  parameters: Type.Object({
    senderLabel: P.string('Written as recipientLabel in the acknowledgement: the recipientLabel of the recipient that disseminated the product in the origin catalog.', { label: 'Sender label', minLength: 1 }),
    propertyPathToUrn: P.optional(P.string('Dot path in the payload to the origin URN; unset: payload.urn, else payload.originUrn.', { label: 'Path to the URN' })),
    featureDisseminationExchange: P.optional(P.amqpName('Exchange of feature acknowledgements.', { label: 'Feature exchange' })),
    featureDisseminationQueueName: P.optional(P.amqpName('Queue of feature acknowledgements.', { label: 'Feature queue' })),
    featureDisseminationUseDedicatedDlq: P.optional(P.boolean('Dead-letter routing key <featureQueue>.DLQ instead of regards.DLQ.', { label: 'Feature dedicated DLQ', default: false })),
    aipDisseminationExchange: P.optional(P.amqpName('Exchange of AIP/SIP/DIP acknowledgements.', { label: 'AIP exchange' })),
    aipDisseminationQueueName: P.optional(P.amqpName('Queue of AIP/SIP/DIP acknowledgements.', { label: 'AIP queue' })),
    aipDisseminationUseDedicatedDlq: P.optional(P.boolean('Dead-letter routing key <aipQueue>.dlq (lower case, as REGARDS) instead of regards.DLQ.', { label: 'AIP dedicated DLQ', default: false })),
    ...reportingParameters('Ack dissemination sender'),
    ...POLICY_PARAMETERS,
  }),
  checks: (values) => {
    const targets = ackTargets(values)
    return !targets.FEATURE && !targets.OAIS ? ['Bad configuration, missing cohesive exchange and queue names'] : []
  },
})

interface AckTargets {
  FEATURE: AmqpTarget | undefined
  OAIS: AmqpTarget | undefined
}

function ackTargets(values: ParameterValues<typeof DISSEMINATION_ACK_SENDER>): AckTargets {
  const { featureDisseminationExchange: featureExchange, featureDisseminationQueueName: featureQueue, aipDisseminationExchange: aipExchange, aipDisseminationQueueName: aipQueue } = values
  return {
    FEATURE:
      featureExchange && featureQueue
        ? {
            exchange: featureExchange,
            queueName: featureQueue,
            deadLetterRoutingKey: values.featureDisseminationUseDedicatedDlq ? `${featureQueue}.DLQ` : GLOBAL_DLQ,
          }
        : undefined,
    OAIS:
      aipExchange && aipQueue
        ? {
            exchange: aipExchange,
            queueName: aipQueue,
            // Lower case: REGARDS' own suffix for the ingest acknowledgement queue.
            deadLetterRoutingKey: values.aipDisseminationUseDedicatedDlq ? `${aipQueue}.dlq` : GLOBAL_DLQ,
          }
        : undefined,
  }
}

/**
 * REGARDS-to-REGARDS acknowledgement (DisseminationAckSender 2.0.0): for
 * each notified product, tells the catalog it came from that it arrived here, with
 * `DisseminationAckEvent {urn, recipientLabel: senderLabel}` on a local exchange and queue that a shovel
 * moves to the origin instance.
 *
 * Herald differs in two places, both invisible to a receiver that gets well-formed batches:
 * - `regards.tenant` is taken from each message's own URN, where REGARDS stamps the first URN's tenant on
 *   the whole batch (so a batch mixing tenants reached the wrong one).
 * - A URN whose kind (feature or AIP) has no configured exchange and queue fails that request only,
 *   with a message naming the missing parameters; REGARDS failed the whole batch on a null exchange.
 */
export const disseminationAckSender = defineAmqpSender({
  declaration: DISSEMINATION_ACK_SENDER,
  describe(values): RecipientInfo {
    return { ...commonRecipientInfo(DISSEMINATION_ACK_SENDER, values), ackRequired: false, blockingRequired: false }
  },
  builder(values, ctx) {
    const { senderLabel, propertyPathToUrn } = values
    const targets = ackTargets(values)
    return (item: DeliveryItem): Built => {
      const urn = originUrn(item.payload, propertyPathToUrn)
      if (urn === undefined) {
        const where = propertyPathToUrn ? `at payload path ${propertyPathToUrn}` : 'in payload.urn or payload.originUrn'
        return permanentFailure('ACK_NO_URN', `no URN ${where}: nothing to acknowledge`)
      }
      const kind = urnKind(urn)
      if (!kind) return permanentFailure('ACK_INVALID_URN', `invalid URN ${JSON.stringify(urn)}: expected URN:FEATURE|AIP|SIP|DIP:<type>:<tenant>:<uuid>:V<n>`)
      const target = targets[kind]
      if (!target) {
        const prefix = kind === 'FEATURE' ? 'featureDissemination' : 'aipDissemination'
        return permanentFailure('ACK_NO_TARGET', `${urn} is ${kind === 'FEATURE' ? 'a feature' : 'an AIP'} URN but parameters ${prefix}Exchange and ${prefix}QueueName are not set`)
      }
      const tenant = urnTenant(urn)
      if (!mayPublishAs(ctx.crossTenantPublish, ctx.tenant, tenant)) return permanentFailure('ACK_OTHER_TENANT', `${urn}: the URN's tenant ${otherTenantReason(ctx.tenant, tenant)}`)
      return {
        target,
        message: {
          headers: { 'regards.tenant': tenant, 'regards.type': kind === 'FEATURE' ? FEATURE_ACK_TYPE : AIP_ACK_TYPE, 'regards.converter': 'GSON' },
          body: JSON.stringify({ urn, recipientLabel: senderLabel }),
          priority: 0,
        },
      }
    }
  },
})
