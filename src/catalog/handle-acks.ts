import type { AsyncMessage } from 'rabbitmq-client'
import type { MessageOutcome } from '../amqp/consume-batches.ts'
import { runIntakePipeline } from '../amqp/intake-pipeline.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import type { Ctx } from '../context.ts'
import { applyDisseminationChanges, type AppliedChanges, type DisseminationChange } from './apply-disseminations.ts'
import { addCounters } from './counters.ts'
import { parseAck } from './parse-ack.ts'

const EXAMPLES = 5

interface Ack {
  change: DisseminationChange
  /** Without a type header (accepted, counted). */
  untyped: boolean
}
/** A malformed ack whose tenant is known: dead-lettered, and counted in its tenant's counters. */
const MALFORMED = 'malformed'
type AckItem = Ack | typeof MALFORMED

interface AckOutcome {
  /** None: an acknowledgement is answered by nothing. */
  events: OutboxEvent[]
  applied: AppliedChanges
  changes: DisseminationChange[]
  untyped: number
}

/**
 * The ack consumers' batch handler (feature exchange and ingest exchange alike). Acks are applied at once, in
 * the batch's transaction (REGARDS stages them for a 2-second scheduler): `ackDate` = reception time, status
 * recomputed, blocked deletions released. What changes nothing, or something unexpected, is logged and counted
 * in `catalog_counter`, never an error: an unknown URN is ignored (REGARDS), an unknown label records an
 * acknowledged dissemination (REGARDS), a duplicate ack moves the dates forward (REGARDS). A malformed ack is
 * dead-lettered alone; the rest of its batch is applied.
 */
export function handleAckBatch(ctx: Ctx, expectedType: string, messages: AsyncMessage[], onReleased: () => void): Promise<MessageOutcome[]> {
  const now = new Date()
  return runIntakePipeline<AckItem, AckOutcome>(ctx, messages, {
    read(msg) {
      const parsed = parseAck(msg, expectedType, { tenants: ctx.config.tenants, maxMessageBytes: ctx.config.maxMessageBytes })
      if (parsed.kind === 'malformed') {
        const deadLetter = `invalid DisseminationAckEvent: ${parsed.reason}`
        const tenant = String(msg.headers?.['regards.tenant'] ?? '')
        // Counted in its tenant's counters, in the transaction of the tenant's other acks.
        return tenant ? { tenant, item: MALFORMED, deadLetter } : { deadLetter }
      }
      if (parsed.kind === 'unknown-tenant') {
        ctx.log.warn({ tenant: parsed.tenant }, 'acknowledgement for a tenant this Herald does not serve: ignored')
        ctx.events.safeEmit('request:ignored', { tenant: parsed.tenant, reason: 'unknown-tenant' })
        return { ignored: true }
      }
      return { tenant: parsed.tenant, item: { change: { kind: 'ACK', urn: parsed.urn, label: parsed.label, date: now }, untyped: parsed.untyped } }
    },
    async apply(tx, tenant, items) {
      const acks = items.filter((item): item is Ack => item !== MALFORMED)
      const changes = acks.map((a) => a.change)
      const untyped = acks.filter((a) => a.untyped).length
      const applied = await applyDisseminationChanges(tx, tenant, changes)
      await addCounters(tx, tenant, {
        'ack.unknown-urn': applied.outcomes['unknown-urn'],
        'ack.unknown-label': applied.outcomes['ack-unknown-label'],
        'ack.duplicate': applied.outcomes['ack-duplicate'],
        'ack.untyped': untyped,
        'ack.dead-lettered': items.length - acks.length,
      })
      return { events: [], applied, changes, untyped }
    },
    report(tenant, { applied, changes, untyped }) {
      const log = ctx.log.child({ tenant })
      const examples = (outcome: string) =>
        changes.filter((_, i) => applied.perChange[i] === outcome).slice(0, EXAMPLES).map((c) => ({ urn: c.urn, label: c.label }))
      if (applied.outcomes['unknown-urn'] > 0) {
        log.warn({ count: applied.outcomes['unknown-urn'], examples: examples('unknown-urn') }, 'acknowledgements for unknown products ignored')
      }
      if (applied.outcomes['ack-unknown-label'] > 0) {
        log.warn({ count: applied.outcomes['ack-unknown-label'], examples: examples('ack-unknown-label') }, 'acknowledgements for labels never notified: recorded as acknowledged disseminations')
      }
      if (applied.outcomes['ack-duplicate'] > 0) {
        log.info({ count: applied.outcomes['ack-duplicate'], examples: examples('ack-duplicate') }, 'duplicate acknowledgements: already acknowledged')
      }
      if (untyped > 0) log.debug({ count: untyped }, 'acknowledgements without a type header accepted')
      log.debug({ applied: applied.outcomes['ack-applied'], released: applied.released }, 'acknowledgements applied')
      if (applied.released > 0) onReleased()
    },
  })
}
