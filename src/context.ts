import type { Broker } from './amqp/broker.ts'
import type { OutboxRow, TakenOutboxRows } from './amqp/outbox-relay.ts'
import type { Config } from './config.ts'
import type { Backend, Db } from './db/client.ts'
import type { HeraldEvents } from './events.ts'
import type { Logger } from './log.ts'
import type { SendNow } from './notifier/send-now.ts'
import type { ConfigCache } from './notifier/tenant-config.ts'
import type { SecretBox } from './secrets/secret-box.ts'

/** Wake-up calls between the stages of one instance: new work is picked up at once, not at the next poll. */
export interface Signals {
  deliveries(): void
  /**
   * The intake left new deliveries PENDING: this instance's worker was told by its SendNow, the other
   * instances hear of them at once (PostgreSQL NOTIFY).
   */
  announceDeliveries(): void
  /** Slots for one intake transaction to claim its new deliveries and send them right after its commit. */
  sendNow(): SendNow
  /**
   * Outbox rows were committed. `committed`: rows written `fromMemory` (insertOutbox), published now by
   * this instance rather than by a relay round.
   */
  outbox(committed?: OutboxRow[]): void
  /** Outbox rows published and confirmed, for the writer's next transaction to delete (OutboxRelay.takeConfirmed). */
  takeConfirmedOutbox(): TakenOutboxRows
  /** Catalog requests made due by an operator (retry, forced deletion, dissemination): the catalog workers look at once. */
  catalog(): void
}

/** What every part of Herald is given: built once in main.ts, frozen, passed first. */
export interface Ctx {
  /** This process, among the instances sharing the database: names its claims and its heartbeat. */
  readonly instanceId: string
  readonly config: Config
  readonly log: Logger
  readonly db: Db
  readonly backend: Backend
  readonly broker: Broker
  readonly configCache: ConfigCache
  /** Seals and opens the secret parameters of plugin configurations where they are stored and read. */
  readonly secrets: SecretBox
  readonly events: HeraldEvents
  readonly signals: Signals
}
