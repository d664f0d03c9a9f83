import * as notifierTopology from '../amqp/topology.ts'
import * as catalogTopology from '../catalog/topology.ts'
import type { Parameters } from './sender.ts'

/**
 * What a recipient may make Herald publish, tenant-wise. A tenant ADMIN configures the recipients of one
 * tenant; what they publish carries a `regards.tenant` header that Herald (and REGARDS services) believe.
 * So a recipient publishes as its own tenant only, unless the instance operator lets recipients of one
 * tenant publish as another with `HERALD_ALLOW_CROSS_TENANT_PUBLISH`:
 *
 * - `recipientTenant` (WorkerManagerSender, LtaRequestSender), a static value: refused at configuration
 *   time (import, REST: 400 naming the entry and the parameter), and again when the sender is built, for
 *   rows stored before;
 * - the DisseminationAckSender's tenant, taken from each product's URN: refused at delivery time
 *   (`ACK_OTHER_TENANT`, permanent).
 *
 * And no recipient publishes into Herald's own intake (the exchanges its roles consume, their queues and
 * DLQs): whatever tenant it carries, such a message would be taken by Herald as a request, an event or an
 * acknowledgement, and a rule matching what it produced would loop. The operator, who owns the broker,
 * can still bind a recipient's exchange there (an exchange-to-exchange binding or a shovel).
 */

/** One `FROM:TO` entry of HERALD_ALLOW_CROSS_TENANT_PUBLISH; `*` matches any tenant. */
export interface CrossTenantRule {
  from: string
  to: string
}
export type CrossTenantRules = readonly CrossTenantRule[]

/**
 * `HERALD_ALLOW_CROSS_TENANT_PUBLISH`: comma-separated `FROM:TO` (recipients of tenant FROM may publish as
 * tenant TO), either side `*`; a lone `*` is `*:*`. Throws on an entry it cannot read, naming it.
 */
export function parseCrossTenantRules(text: string | undefined): CrossTenantRule[] {
  const entries = (text ?? '').split(',').map((e) => e.trim()).filter(Boolean)
  return entries.map((entry) => {
    if (entry === '*') return { from: '*', to: '*' }
    const parts = entry.split(':').map((p) => p.trim())
    if (parts.length !== 2 || parts.some((p) => p === '')) {
      throw new Error(`HERALD_ALLOW_CROSS_TENANT_PUBLISH: ${JSON.stringify(entry)} is not FROM:TO (tenants, or * for any)`)
    }
    return { from: parts[0], to: parts[1] }
  })
}

/** Whether a recipient of tenant `from` may publish messages that carry tenant `to`. */
export function mayPublishAs(rules: CrossTenantRules, from: string, to: string): boolean {
  return from === to || rules.some((r) => (r.from === '*' || r.from === from) && (r.to === '*' || r.to === to))
}

/** Why a recipient of `tenant` may not publish as `other`, for an error message. */
export const otherTenantReason = (tenant: string, other: string) =>
  `${JSON.stringify(other)} is another tenant than the recipient's (${tenant}): the instance operator allows it with HERALD_ALLOW_CROSS_TENANT_PUBLISH=${tenant}:${other}`

const values = (module: Record<string, unknown>, suffix: string) =>
  Object.entries(module).filter(([name, value]) => name.endsWith(suffix) && typeof value === 'string').map(([, value]) => value as string)

/** Exchanges Herald's roles consume (and regards.DLX, where they dead-letter). */
const INTAKE_EXCHANGES = new Set([
  notifierTopology.NOTIFICATION_REQUEST_EXCHANGE,
  notifierTopology.SPECIFIC_RECIPIENT_REQUEST_EXCHANGE,
  notifierTopology.NOTIFIER_EVENT_EXCHANGE,
  notifierTopology.DLX,
  catalogTopology.FEATURE_CREATION_EXCHANGE,
  catalogTopology.FEATURE_UPDATE_EXCHANGE,
  catalogTopology.FEATURE_DELETION_EXCHANGE,
  catalogTopology.FEATURE_NOTIFICATION_EXCHANGE,
  catalogTopology.FEATURE_ACK_EXCHANGE,
  catalogTopology.INGEST_ACK_EXCHANGE,
])
/** Queues Herald's roles consume, their DLQs and the global DLQ. */
const INTAKE_QUEUES = new Set(
  [...values(notifierTopology, '_QUEUE'), ...values(catalogTopology, '_QUEUE')].flatMap((q) => [q, notifierTopology.dedicatedDlq(q)]).concat(notifierTopology.GLOBAL_DLQ),
)

const EXCHANGE_PARAMETERS = ['exchange', 'featureDisseminationExchange', 'aipDisseminationExchange']
const QUEUE_PARAMETERS = ['queueName', 'featureDisseminationQueueName', 'aipDisseminationQueueName', 'queueDeadLetterRoutingKey']
// regards.DLQ is REGARDS' default dead-letter routing key of a recipient's queue: only binding it is refused.
const isIntakeQueue = (name: string, queue: string) => INTAKE_QUEUES.has(queue) && !(name === 'queueDeadLetterRoutingKey' && queue === notifierTopology.GLOBAL_DLQ)

const text = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v).trim())

/**
 * The problems of a recipient's parameters against the tenant boundary, each naming the parameter: empty
 * when the recipient publishes as its own tenant (or as one the operator allows) and outside Herald's intake.
 */
export function publishingProblems(params: Parameters, tenant: string, rules: CrossTenantRules): string[] {
  const problems: string[] = []
  const recipientTenant = text(params.recipientTenant)
  if (recipientTenant !== undefined && !mayPublishAs(rules, tenant, recipientTenant)) {
    problems.push(`parameter recipientTenant: ${otherTenantReason(tenant, recipientTenant)}`)
  }
  for (const name of EXCHANGE_PARAMETERS) {
    const exchange = text(params[name])
    if (exchange !== undefined && INTAKE_EXCHANGES.has(exchange)) problems.push(`parameter ${name}: ${exchange} is an exchange Herald consumes; a recipient may not publish into Herald's own intake`)
  }
  for (const name of QUEUE_PARAMETERS) {
    const queue = text(params[name])
    if (queue !== undefined && isIntakeQueue(name, queue)) problems.push(`parameter ${name}: ${queue} is a queue of Herald's own intake; a recipient may not bind or dead-letter into it`)
  }
  return problems
}
