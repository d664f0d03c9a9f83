import type { AsyncMessage } from 'rabbitmq-client'
import { HEADER_TENANT, HEADER_TYPE, headerString } from '../amqp/envelope.ts'
import { parseJsonObject } from './parse-fem-message.ts'
import { HEADER_TYPE_ID } from './topology.ts'
import { formatUrn, parseUrn } from './urn.ts'

export type ParsedAck =
  /** Malformed: dead-lettered alone, with this reason. */
  | { kind: 'malformed'; reason: string }
  | { kind: 'unknown-tenant'; tenant: string }
  /** `untyped`: no type header (REGARDS would drop it; the FEM guide never asks for one, so Herald accepts it). */
  | { kind: 'ack'; tenant: string; urn: string; label: string; untyped: boolean }

const LABEL_MAX = 128

/**
 * Reads a `DisseminationAckEvent` `{urn, recipientLabel}` with its `regards.tenant` header.
 * The type header (`__TypeId__`, else `regards.type`), when present, must name `expectedType`. The URN must be a
 * valid REGARDS URN; it is matched in its canonical form (`V01` is `V1`), where REGARDS compares raw strings.
 */
export function parseAck(msg: AsyncMessage, expectedType: string, opts: { tenants: ReadonlySet<string> | undefined; maxMessageBytes: number }): ParsedAck {
  const tenant = headerString(msg.headers, HEADER_TENANT)?.trim()
  if (!tenant) return { kind: 'malformed', reason: 'missing header regards.tenant' }
  if (opts.tenants && !opts.tenants.has(tenant)) return { kind: 'unknown-tenant', tenant }
  const type = headerString(msg.headers, HEADER_TYPE_ID) ?? headerString(msg.headers, HEADER_TYPE)
  if (type !== undefined && type !== expectedType) return { kind: 'malformed', reason: `message type ${type.slice(0, 200)} is not ${expectedType}` }
  const body = parseJsonObject(msg.body, opts.maxMessageBytes)
  if ('error' in body) return { kind: 'malformed', reason: body.error }
  const { urn, recipientLabel } = body.value
  if (urn === undefined || urn === null) return { kind: 'malformed', reason: 'urn is mandatory' }
  const parsed = parseUrn(urn)
  if (!parsed.ok) return { kind: 'malformed', reason: `invalid urn: ${parsed.error}` }
  if (typeof recipientLabel !== 'string' || recipientLabel.trim() === '') return { kind: 'malformed', reason: 'recipientLabel is mandatory' }
  if (recipientLabel.length > LABEL_MAX) return { kind: 'malformed', reason: `recipientLabel is longer than ${LABEL_MAX} characters` }
  return { kind: 'ack', tenant, urn: formatUrn(parsed.urn), label: recipientLabel, untyped: type === undefined }
}
