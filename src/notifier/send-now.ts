import type { ClaimedDelivery } from './claim-deliveries.ts'
import type { RecipientConfig } from './tenant-config.ts'

/**
 * Deliveries the intake may claim in its own insert and hand to the delivery worker from memory: the
 * worker's claim statement (an update of every row and a join to read the products back) is skipped for
 * them, and they are on their way as soon as the intake commits, without waiting for the worker's next
 * pass. One per tenant's intake transaction.
 *
 * The worker grants slots within the recipient's limits (batches in flight, rate), and only when none of
 * the recipient's deliveries may be waiting ahead of them: a backlog is drained by the worker's claims, in
 * priority order, never overtaken by the newest requests.
 */
export interface SendNow {
  /** How many of `count` new deliveries to `recipient` the intake may insert claimed (SENDING). */
  take(recipient: RecipientConfig, count: number): number
  /** After the commit: the deliveries inserted claimed, by recipient id, to send now. */
  send(claimed: ReadonlyMap<number, ClaimedDelivery[]>): void
  /** The transaction failed: the slots go back, unused. */
  cancel(): void
}

/** When no delivery worker runs in this process (the CLI, a test of the intake alone): every delivery is inserted PENDING. */
export const SEND_NOTHING_NOW: SendNow = Object.freeze({
  take: () => 0,
  send: () => {},
  cancel: () => {},
})
