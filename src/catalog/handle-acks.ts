import type { AsyncMessage } from 'rabbitmq-client'
import type { MessageOutcome } from '../amqp/consume-batches.ts'
import type { Ctx } from '../context.ts'
import { applyDisseminationChanges, type DisseminationChange } from './apply-disseminations.ts'
import { isCommitted, markCommitted } from './committed.ts'
import { addCounters } from './counters.ts'
import { parseAck } from './parse-ack.ts'

const EXAMPLES = 5

/**
 * The ack consumers' batch handler (feature exchange and ingest exchange alike). Acks are applied at once, in
 * the batch's transaction (REGARDS stages them for a 2-second scheduler): `ackDate` = reception time, status
 * recomputed, blocked deletions released. What changes nothing, or something unexpected, is logged and counted
 * in `catalog_counter`, never an error: an unknown URN is ignored (REGARDS), an unknown label records an
 * acknowledged dissemination (REGARDS), a duplicate ack moves the dates forward (REGARDS). A malformed ack is
 * dead-lettered alone; the rest of its batch is applied.
 */
export async function handleAckBatch(ctx: Ctx, expectedType: string, messages: AsyncMessage[], onReleased: () => void): Promise<MessageOutcome[]> {
  const now = new Date()
  const outcomes: MessageOutcome[] = messages.map(() => ({ ack: true }))
  const byTenant = new Map<string, { changes: DisseminationChange[]; untyped: number }>()
  const malformedByTenant = new Map<string, number>()
  const messagesOf = new Map<string, AsyncMessage[]>()
  messages.forEach((msg, i) => {
    if (isCommitted(msg)) return
    const parsed = parseAck(msg, expectedType, { tenants: ctx.config.tenants, maxMessageBytes: ctx.config.maxMessageBytes })
    if (parsed.kind === 'malformed') {
      outcomes[i] = { deadLetter: `invalid DisseminationAckEvent: ${parsed.reason}` }
      const tenant = String(msg.headers?.['regards.tenant'] ?? '')
      if (tenant) malformedByTenant.set(tenant, (malformedByTenant.get(tenant) ?? 0) + 1)
      return
    }
    if (parsed.kind === 'unknown-tenant') {
      ctx.log.warn({ tenant: parsed.tenant }, 'acknowledgement for a tenant this Herald does not serve: ignored')
      ctx.events.safeEmit('request:ignored', { tenant: parsed.tenant, reason: 'unknown-tenant' })
      return
    }
    const group = byTenant.get(parsed.tenant) ?? { changes: [], untyped: 0 }
    group.changes.push({ kind: 'ACK', urn: parsed.urn, label: parsed.label, date: now })
    if (parsed.untyped) group.untyped++
    byTenant.set(parsed.tenant, group)
    const own = messagesOf.get(parsed.tenant) ?? []
    own.push(msg)
    messagesOf.set(parsed.tenant, own)
  })
  for (const tenant of malformedByTenant.keys()) if (!byTenant.has(tenant)) byTenant.set(tenant, { changes: [], untyped: 0 })

  await Promise.all(
    [...byTenant].map(async ([tenant, { changes, untyped }]) => {
      const malformed = malformedByTenant.get(tenant) ?? 0
      const applied = await ctx.db.transaction().execute(async (tx) => {
        const result = await applyDisseminationChanges(tx, tenant, changes)
        await addCounters(tx, tenant, {
          'ack.unknown-urn': result.outcomes['unknown-urn'],
          'ack.unknown-label': result.outcomes['ack-unknown-label'],
          'ack.duplicate': result.outcomes['ack-duplicate'],
          'ack.untyped': untyped,
          'ack.dead-lettered': malformed,
        })
        return result
      })
      markCommitted(messagesOf.get(tenant) ?? [])
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
    }),
  )
  return outcomes
}
