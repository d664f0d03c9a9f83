import client from 'prom-client'
import type { HeraldEvents } from './events.ts'
import type { ConfigCache } from './notifier/tenant-config.ts'

/** The label of a tenant that is neither in HERALD_TENANTS nor configured. */
export const OTHER_TENANT = 'other'

export interface TenantSources {
  /** HERALD_TENANTS, when set. */
  tenants: ReadonlySet<string> | undefined
  configCache: Pick<ConfigCache, 'isConfigured' | 'cachedTenants'>
}

/**
 * Prometheus metrics, fed by lifecycle events (the core emits events and never touches prom-client).
 * Any AMQP publisher can name any tenant: a tenant gets its own label only when it is in HERALD_TENANTS or
 * has a configuration, the others are counted together as `other`, so the series stay as many as the
 * tenants the operator set up.
 */
export function createMetrics(events: HeraldEvents, sources: TenantSources): client.Registry {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry })
  const label = (tenant: string) => (sources.tenants?.has(tenant) || sources.configCache.isConfigured(tenant) ? tenant : OTHER_TENANT)
  const counter = (name: string, help: string, labelNames: string[]) => new client.Counter({ name, help, labelNames, registers: [registry] })
  const received = counter('herald_requests_received_total', 'Notification requests read from AMQP', ['tenant'])
  const denied = counter('herald_requests_denied_total', 'Requests answered DENIED', ['tenant'])
  const granted = counter('herald_requests_granted_total', 'Requests answered GRANTED or TO_SCHEDULE_BY_RECIPIENT (retries included)', ['tenant', 'mode'])
  const ignored = counter('herald_requests_ignored_total', 'Messages acked without effect', ['tenant', 'reason'])
  const completed = counter('herald_requests_completed_total', 'Requests completed', ['tenant', 'state'])
  const ruleErrors = counter('herald_rule_errors_total', 'Rule evaluations that failed', ['tenant', 'rule'])
  const deadLettered = counter('herald_messages_dead_lettered_total', 'Messages sent to a dead-letter queue', ['queue'])
  const sent = counter('herald_deliveries_sent_total', 'Deliveries confirmed by their recipient', ['tenant', 'recipient'])
  const failed = counter('herald_deliveries_failed_total', 'Deliveries that exhausted their retry policy', ['tenant', 'recipient'])
  const retried = counter('herald_deliveries_retried_total', 'Failed delivery attempts that will be retried', ['tenant', 'recipient'])
  const parks = counter('herald_recipient_parked_total', 'Times a recipient was parked after failures', ['tenant', 'recipient'])
  const parkedNow = new client.Gauge({ name: 'herald_recipient_parked', help: '1 while this instance saw the recipient parked', labelNames: ['tenant', 'recipient'], registers: [registry] })
  new client.Gauge({
    name: 'herald_config_cache_tenants',
    help: 'Tenants whose rules and recipients this instance holds in memory (tenants without a configuration are forgotten within 500 ms)',
    registers: [registry],
    collect() {
      this.set(sources.configCache.cachedTenants)
    },
  })
  const unhandled = counter('herald_unhandled_rejections_total', 'Promise rejections nobody handled (logged, the process kept running)', [])
  const sendSeconds = new client.Histogram({
    name: 'herald_delivery_batch_seconds',
    help: 'Time to send one batch to a recipient',
    labelNames: ['tenant', 'recipient'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  })
  events.on('request:received', ({ tenant }) => received.inc({ tenant: label(tenant) }))
  events.on('request:denied', ({ tenant }) => denied.inc({ tenant: label(tenant) }))
  events.on('request:granted', ({ tenant, direct, count }) => granted.inc({ tenant: label(tenant), mode: direct ? 'direct' : 'rules' }, count))
  events.on('request:ignored', ({ tenant, reason }) => ignored.inc({ tenant: label(tenant), reason }))
  events.on('request:completed', ({ tenant, state, count }) => completed.inc({ tenant: label(tenant), state }, count))
  events.on('request:rule-error', ({ tenant, rule }) => ruleErrors.inc({ tenant: label(tenant), rule }))
  events.on('message:dead-lettered', ({ queue }) => deadLettered.inc({ queue }))
  events.on('delivery:sent', ({ tenant, recipient, count, seconds }) => {
    sent.inc({ tenant: label(tenant), recipient }, count)
    sendSeconds.observe({ tenant: label(tenant), recipient }, seconds)
  })
  events.on('delivery:failed', ({ tenant, recipient, count }) => failed.inc({ tenant: label(tenant), recipient }, count))
  events.on('recipient:parked', ({ tenant, recipient }) => {
    parks.inc({ tenant: label(tenant), recipient })
    parkedNow.set({ tenant: label(tenant), recipient }, 1)
  })
  events.on('recipient:unparked', ({ tenant, recipient }) => parkedNow.set({ tenant: label(tenant), recipient }, 0))
  events.on('delivery:retried', ({ tenant, recipient, count }) => retried.inc({ tenant: label(tenant), recipient }, count))
  events.on('process:unhandled-rejection', () => unhandled.inc())
  return registry
}
