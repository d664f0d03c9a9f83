import client from 'prom-client'
import type { HeraldEvents } from './events.ts'

/** Prometheus metrics, fed by lifecycle events (the core emits events and never touches prom-client). */
export function createMetrics(events: HeraldEvents): client.Registry {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry })
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
  const unhandled = counter('herald_unhandled_rejections_total', 'Promise rejections nobody handled (logged, the process kept running)', [])
  const sendSeconds = new client.Histogram({
    name: 'herald_delivery_batch_seconds',
    help: 'Time to send one batch to a recipient',
    labelNames: ['tenant', 'recipient'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  })
  events.on('request:received', ({ tenant }) => received.inc({ tenant }))
  events.on('request:denied', ({ tenant }) => denied.inc({ tenant }))
  events.on('request:granted', ({ tenant, direct, count }) => granted.inc({ tenant, mode: direct ? 'direct' : 'rules' }, count))
  events.on('request:ignored', ({ tenant, reason }) => ignored.inc({ tenant, reason }))
  events.on('request:completed', ({ tenant, state, count }) => completed.inc({ tenant, state }, count))
  events.on('request:rule-error', ({ tenant, rule }) => ruleErrors.inc({ tenant, rule }))
  events.on('message:dead-lettered', ({ queue }) => deadLettered.inc({ queue }))
  events.on('delivery:sent', ({ tenant, recipient, count, seconds }) => {
    sent.inc({ tenant, recipient }, count)
    sendSeconds.observe({ tenant, recipient }, seconds)
  })
  events.on('delivery:failed', ({ tenant, recipient, count }) => failed.inc({ tenant, recipient }, count))
  events.on('recipient:parked', ({ tenant, recipient }) => {
    parks.inc({ tenant, recipient })
    parkedNow.set({ tenant, recipient }, 1)
  })
  events.on('recipient:unparked', ({ tenant, recipient }) => parkedNow.set({ tenant, recipient }, 0))
  events.on('delivery:retried', ({ tenant, recipient, count }) => retried.inc({ tenant, recipient }, count))
  events.on('process:unhandled-rejection', () => unhandled.inc())
  return registry
}
