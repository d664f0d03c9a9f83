import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { NOTHING_TAKEN } from '../src/amqp/outbox-relay.ts'
import { SEND_NOTHING_NOW } from '../src/notifier/send-now.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.ts'
import type { Ctx } from '../src/context.ts'
import { createLogger } from '../src/log.ts'
import { claimDeliveries } from '../src/notifier/claim-deliveries.ts'
import { completeRequests } from '../src/notifier/complete-requests.ts'
import { recoverAbandonedClaims } from '../src/notifier/maintenance.ts'
import { recordResults } from '../src/notifier/record-results.ts'
import { RequestCompleter } from '../src/notifier/request-completer.ts'
import { parkRecipient } from '../src/notifier/recipient-state.ts'
import type { RecipientConfig, TenantConfig } from '../src/notifier/tenant-config.ts'
import { DEFAULT_POLICY } from '../src/senders/policy.ts'
import { BACKENDS, openTestDatabase, type TestDatabase } from './support/services.ts'

/** Who may take a claimed delivery back, and who may record it: the heartbeat, the lease, the claim's owner. */
for (const backend of BACKENDS) {
  describe(`${backend}: claimed deliveries, their owners and their recovery`, () => {
    let database: TestDatabase
    let ctx: Ctx
    const live = randomUUID()

    beforeAll(async () => {
      database = await openTestDatabase(backend)
      ctx = { instanceId: live, config: loadConfig({}), db: database.db, log: createLogger('silent'), signals: { deliveries() {}, announceDeliveries() {}, sendNow: () => SEND_NOTHING_NOW, outbox() {}, takeConfirmedOutbox: () => NOTHING_TAKEN } } as unknown as Ctx
    })
    afterAll(async () => database?.drop())

    /** One SCHEDULED request with one delivery per recipient name; returns recipient name → delivery id. */
    async function deliveries(names: string[]): Promise<Record<string, number>> {
      const db = database.db
      const { rows: request } = await sql<{ id: number }>`insert into notification_request (tenant, request_id, request_date, not_before, mode, state, payload, metadata)
        values ('t', ${randomUUID()}, now(), now(), 'RULES', 'SCHEDULED', '{}', '{}') returning id`.execute(db)
      const ids: Record<string, number> = {}
      for (const name of names) {
        const { rows: recipient } = await sql<{ id: number }>`insert into plugin_configuration (tenant, business_id, plugin_id, kind, label)
          values ('t', ${`${name}-${randomUUID().slice(0, 8)}`}, 'RabbitMQSender', 'RECIPIENT', ${name}) returning id`.execute(db)
        const { rows } = await sql<{ id: number }>`insert into delivery (tenant, request_pk, recipient_id, state, request_date)
          values ('t', ${request[0].id}, ${recipient[0].id}, 'PENDING', now()) returning id`.execute(db)
        ids[name] = rows[0].id
      }
      return ids
    }

    const stateOf = async (id: number) =>
      (await sql<{ state: string; claimed_by: string | null }>`select state, claimed_by from delivery where id = ${id}`.execute(database.db)).rows[0]

    it('takes back the claims of a silent or departed instance and expired leases, and leaves a live instance alone', async () => {
      const db = database.db
      const silent = randomUUID()
      await sql`insert into herald_instance (id, host, pid, heartbeat_at) values
        (${live}::uuid, 'h', 1, now()), (${silent}::uuid, 'h', 2, now() - interval '20 seconds')`.execute(db)
      const ids = await deliveries(['live', 'silent', 'departed', 'unowned', 'expired'])
      const claim = (id: number, owner: string | null, lease: string) =>
        sql`update delivery set state = 'SENDING', attempts = 1, claimed_by = ${owner}::uuid, lease_until = now() + ${lease}::interval where id = ${id}`.execute(db)
      await claim(ids.live, live, '2 minutes')
      await claim(ids.silent, silent, '2 minutes')
      await claim(ids.departed, randomUUID(), '2 minutes')
      await claim(ids.unowned, null, '2 minutes') // claimed before instances beat: its lease decides
      await claim(ids.expired, live, '-1 second')

      expect(await recoverAbandonedClaims(ctx)).toBe(3)
      const states = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([name, id]) => [name, (await stateOf(id)).state])))
      expect(states).toEqual({ live: 'SENDING', silent: 'PENDING', departed: 'PENDING', unowned: 'SENDING', expired: 'PENDING' })
    })

    it('records a batch only where it still holds the claim', async () => {
      const ids = await deliveries(['kept', 'retaken'])
      const recipientId = (await sql<{ recipient_id: number }>`select recipient_id from delivery where id = ${ids.kept}`.execute(database.db)).rows[0].recipient_id
      const recipient = { id: recipientId, tenant: 't', businessId: 'kept' } as RecipientConfig
      const retakenRecipient = (await sql<{ recipient_id: number }>`select recipient_id from delivery where id = ${ids.retaken}`.execute(database.db)).rows[0].recipient_id
      const [kept] = await claimDeliveries(database.db, live, recipientId, 10)
      const [retaken] = await claimDeliveries(database.db, live, retakenRecipient, 10)
      // The second claim was taken back and claimed again (by this same instance): a newer attempt.
      await sql`update delivery set state = 'PENDING', claimed_by = null, lease_until = null where id = ${ids.retaken}`.execute(database.db)
      const [again] = await claimDeliveries(database.db, live, retakenRecipient, 10)
      expect(again.attempt).toBe(retaken.attempt + 1)

      const ok = { ok: true } as const
      const recorded = await recordResults(
        database.db,
        live,
        [
          { deliveryId: kept.deliveryId, requestPk: kept.requestPk, attempt: kept.attempt, result: ok },
          { deliveryId: retaken.deliveryId, requestPk: retaken.requestPk, attempt: retaken.attempt, result: ok },
        ],
        DEFAULT_POLICY,
        recipient,
        false,
      )
      expect(recorded.sent).toBe(1)
      expect(await stateOf(ids.kept)).toEqual({ state: 'SUCCESS', claimed_by: null })
      expect(await stateOf(ids.retaken)).toEqual({ state: 'SENDING', claimed_by: live })
      // Another instance cannot record this instance's claim either.
      const stranger = await recordResults(
        database.db,
        randomUUID(),
        [{ deliveryId: again.deliveryId, requestPk: again.requestPk, attempt: again.attempt, result: ok }],
        DEFAULT_POLICY,
        recipient,
        false,
      )
      expect([stranger.sent, (await stateOf(ids.retaken)).state]).toEqual([0, 'SENDING'])
    })
    it('records the successes of a batch in the completion of their request, only where it still holds the claim', async () => {
      const db = database.db
      const ids = await deliveries(['first', 'second'])
      const recipientOf = async (id: number) => (await sql<{ recipient_id: number }>`select recipient_id from delivery where id = ${id}`.execute(db)).rows[0].recipient_id
      const [firstRecipient, secondRecipient] = [await recipientOf(ids.first), await recipientOf(ids.second)]
      await sql`insert into recipient_state (recipient_id, tenant, consecutive_failures) values (${firstRecipient}, 't', 2)`.execute(db)
      const [first] = await claimDeliveries(db, live, firstRecipient, 10)
      const [second] = await claimDeliveries(db, live, secondRecipient, 10)
      const config: TenantConfig = { tenant: 't', version: 1, rules: [], recipientsById: new Map(), recipientsByBusinessId: new Map() }
      const complete = (instanceId: string, batch: (typeof first)[], recipientIds: number[]) =>
        db.transaction().execute((tx) => completeRequests(tx, [], config, { successes: { instanceId, deliveries: batch, recipientIds } }))
      const historyOf = async (requestPk: number) =>
        (await sql<{ state: string; deliveries: { state: string; sentAt: string | null }[] }>`select state, deliveries from request_history where id = ${requestPk}`.execute(db)).rows[0]

      // The second delivery was taken back and claimed again meanwhile: only the newer attempt is recorded.
      const stale = await complete(live, [first, { ...second, attempt: second.attempt - 1 }], [firstRecipient, secondRecipient])
      expect([stale.recorded, stale.succeeded]).toEqual([[ids.first], 0])
      expect([await stateOf(ids.first), await stateOf(ids.second)]).toEqual([
        { state: 'SUCCESS', claimed_by: null },
        { state: 'SENDING', claimed_by: live },
      ])
      // The successes reset their recipient's run of failures.
      expect((await sql<{ consecutive_failures: number }>`select consecutive_failures from recipient_state where recipient_id = ${firstRecipient}`.execute(db)).rows[0]).toEqual({ consecutive_failures: 0 })
      // Another instance cannot record this instance's claim.
      const stranger = await complete(randomUUID(), [second], [secondRecipient])
      expect([stranger.recorded, await stateOf(ids.second)]).toEqual([[], { state: 'SENDING', claimed_by: live }])
      expect(await historyOf(first.requestPk)).toBeUndefined()

      // The last delivery recorded completes the request in the same transaction.
      const last = await complete(live, [second], [secondRecipient])
      expect([last.recorded, last.succeeded, last.events.map((e) => JSON.parse(e.body).state)]).toEqual([[ids.second], 1, ['SUCCESS']])
      const history = await historyOf(first.requestPk)
      expect(history.state).toBe('SUCCESS')
      expect(history.deliveries.map((d) => [d.state, typeof d.sentAt])).toEqual([
        ['SUCCESS', 'string'],
        ['SUCCESS', 'string'],
      ])
      expect(Object.keys(history.deliveries[0])).not.toContain('recordedId')
    })

    it('writes the successes of a request that stays in ERROR, which the history does not take', async () => {
      const db = database.db
      const ids = await deliveries(['failed', 'succeeded'])
      await sql`update delivery set state = 'ERROR', attempts = 3, last_error = 'HTTP 500' where id = ${ids.failed}`.execute(db)
      const recipientId = (await sql<{ recipient_id: number }>`select recipient_id from delivery where id = ${ids.succeeded}`.execute(db)).rows[0].recipient_id
      const [succeeded] = await claimDeliveries(db, live, recipientId, 10)
      const config: TenantConfig = { tenant: 't', version: 1, rules: [], recipientsById: new Map(), recipientsByBusinessId: new Map() }
      const completion = await db
        .transaction()
        .execute((tx) => completeRequests(tx, [], config, { successes: { instanceId: live, deliveries: [succeeded], recipientIds: [recipientId] } }))
      expect([completion.recorded, completion.failed]).toEqual([[ids.succeeded], 1])
      const request = (await sql<{ state: string }>`select state from notification_request where id = ${succeeded.requestPk}`.execute(db)).rows[0]
      // A retry of the request sends again to the failed recipient only: the success must be on record.
      expect([request.state, await stateOf(ids.succeeded)]).toEqual(['ERROR', { state: 'SUCCESS', claimed_by: null }])
    })
    it('takes at most two batches of successes into the completion at once: the next records itself', async () => {
      const db = database.db
      const ids = await deliveries(['a', 'b', 'c'])
      const claimed = await Promise.all(
        Object.values(ids).map(async (id) => {
          const recipientId = (await sql<{ recipient_id: number }>`select recipient_id from delivery where id = ${id}`.execute(db)).rows[0].recipient_id
          return { recipientId, delivery: (await claimDeliveries(db, live, recipientId, 10))[0] }
        }),
      )
      const config: TenantConfig = { tenant: 't', version: 1, rules: [], recipientsById: new Map(), recipientsByBusinessId: new Map() }
      // Batches of one delivery: the bound is two deliveries.
      const completer = new RequestCompleter({
        ...ctx,
        config: loadConfig({ HERALD_DELIVERY_BATCH_SIZE: '1' }),
        configCache: { get: async () => config },
        events: { safeEmit() {} },
      } as unknown as Ctx)
      const [a, b, c] = claimed.map(({ recipientId, delivery }) => () => completer.record('t', recipientId, [delivery]))
      const taken = [a(), b()]
      expect(c()).toBeUndefined()
      expect(await Promise.all(taken)).toEqual([1, 1])
      // Recorded and committed: there is room again, and the last delivery completes the request.
      expect(await c()).toBe(1)
      await completer.stop()
      expect((await sql<{ state: string }>`select state from request_history where id = ${claimed[0].delivery.requestPk}`.execute(db)).rows).toEqual([{ state: 'SUCCESS' }])
    })

    it('does not fail a delivery on its last attempt when another batch parked its recipient meanwhile', async () => {
      const ids = await deliveries(['flaky'])
      const recipientId = (await sql<{ recipient_id: number }>`select recipient_id from delivery where id = ${ids.flaky}`.execute(database.db)).rows[0].recipient_id
      const recipient = { id: recipientId, tenant: 't', businessId: 'flaky' } as RecipientConfig
      const policy = { ...DEFAULT_POLICY, maxAttempts: 1 }
      const [claimed] = await claimDeliveries(database.db, live, recipientId, 10)
      // Claimed, then parked by a batch of the same recipient recorded first (here: by hand).
      await parkRecipient(database.db, { id: recipientId, tenant: 't' }, 'parked by a concurrent batch')
      const down = { ok: false, permanent: false, errorClass: 'HTTP_503', message: 'maintenance' } as const
      const recorded = await recordResults(database.db, live, [{ ...claimed, result: down }], policy, recipient, false)
      expect([recorded.failed, recorded.retried, recorded.parked]).toEqual([0, 1, false])
      const row = (await sql<{ state: string; attempts: number }>`select state, attempts from delivery where id = ${ids.flaky}`.execute(database.db)).rows[0]
      // Back to waiting with its attempt given back: the recipient, not the product, failed.
      expect(row).toEqual({ state: 'PENDING', attempts: 0 })
    })
  })
}
