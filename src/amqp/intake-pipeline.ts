import type { AsyncMessage } from 'rabbitmq-client'
import type { Ctx } from '../context.ts'
import type { Tx } from '../db/client.ts'
import type { MessageOutcome } from './consume-batches.ts'
import { insertOutbox, NOTHING_TAKEN, type OutboxEvent, type OutboxRow, type TakenOutboxRows } from './outbox-relay.ts'

/**
 * What one message of a batch is to its stage: a tenant's item (dead-lettered too, once that tenant
 * committed, when `deadLetter` is set: a malformed message counted in its tenant's counters), a message
 * dead-lettered alone, or a message acked with no effect (a tenant this Herald does not serve).
 */
export type IntakeRead<Item> = { tenant: string; item: Item; deadLetter?: string } | { deadLetter: string } | { ignored: true }

/** One consumer's part of the pipeline: how it reads a message, applies a tenant's items, and reports. */
export interface IntakeStage<Item, Outcome extends { events: OutboxEvent[] }, Prepared = undefined> {
  read(msg: AsyncMessage): IntakeRead<Item>
  /**
   * Loads what `apply` needs, before its transaction opens: a read through the pool inside the transaction
   * would wait forever for PGlite's single connection.
   */
  prepare?(tenant: string): Promise<Prepared>
  /** Applies one tenant's items in the tenant's transaction; its `events` go to the outbox in it. */
  apply(tx: Tx, tenant: string, items: Item[], prepared: Prepared): Promise<Outcome>
  /** After the commit: logs, metrics, and waking the workers that have new work. */
  report(tenant: string, outcome: Outcome, prepared: Prepared): void
  /** The tenant's transaction failed (its messages are handed back): what `prepare` reserved is released. */
  failed?(tenant: string, prepared: Prepared): void
}

const ACK: MessageOutcome = { ack: true }

/**
 * The intake of every consumer: a batch is read in memory, grouped by tenant, and each tenant's share is
 * applied in its own transaction with its answers in the outbox, published from memory after the commit.
 * Tenants are independent: one tenant's failure fails only its own messages, which are handed back as
 * `retry` while the others are acked. So a retry never applies a committed tenant a second time (a
 * request that matched nobody would be answered GRANTED and SUCCESS twice).
 */
export async function runIntakePipeline<Item, Outcome extends { events: OutboxEvent[] }, Prepared = undefined>(
  ctx: Pick<Ctx, 'db' | 'log' | 'signals'>,
  messages: AsyncMessage[],
  stage: IntakeStage<Item, Outcome, Prepared>,
): Promise<MessageOutcome[]> {
  const outcomes: MessageOutcome[] = messages.map(() => ACK)
  const shares = new Map<string, { items: Item[]; messages: number[] }>()
  messages.forEach((msg, i) => {
    const read = stage.read(msg)
    if ('deadLetter' in read && read.deadLetter !== undefined) outcomes[i] = { deadLetter: read.deadLetter }
    if (!('tenant' in read)) return
    const share = shares.get(read.tenant) ?? { items: [], messages: [] }
    share.items.push(read.item)
    share.messages.push(i)
    shares.set(read.tenant, share)
  })

  await Promise.all(
    [...shares].map(async ([tenant, share]) => {
      let outcome: Outcome
      let committed: OutboxRow[]
      let taken: TakenOutboxRows = NOTHING_TAKEN
      let prepared: { value: Prepared } | undefined
      try {
        prepared = { value: stage.prepare ? await stage.prepare(tenant) : (undefined as Prepared) }
        // The events confirmed since the last writer are deleted in this transaction.
        taken = ctx.signals.takeConfirmedOutbox()
        const done = await ctx.db.transaction().execute(async (tx) => {
          const result = await stage.apply(tx, tenant, share.items, prepared!.value)
          return { result, rows: await insertOutbox(tx, result.events, { fromMemory: true, deleting: taken.ids }) }
        })
        taken.settled(true)
        outcome = done.result
        committed = done.rows
      } catch (err) {
        taken.settled(false)
        if (prepared) stage.failed?.(tenant, prepared.value)
        for (const i of share.messages) outcomes[i] = { retry: err }
        return
      }
      // Published right after the commit, without waiting for the confirm: the messages are acked once
      // committed, and the outbox row answers for the event until the broker confirms it.
      if (committed.length > 0) ctx.signals.outbox(committed)
      try {
        stage.report(tenant, outcome, prepared.value)
      } catch (err) {
        // Committed: throwing now would have the batch handled again.
        ctx.log.error({ err, tenant }, 'reporting a committed intake failed')
      }
    }),
  )
  return outcomes
}
