import { sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { NOTHING_TAKEN } from '../src/amqp/outbox-relay.ts'
import { SEND_NOTHING_NOW } from '../src/notifier/send-now.ts'
import type { AsyncMessage } from 'rabbitmq-client'
import { handleAckBatch } from '../src/catalog/handle-acks.ts'
import { REQUEST_SPECS, handleRequestBatch } from '../src/catalog/intake.ts'
import { processDueRequests } from '../src/catalog/process-due-requests.ts'
import { FEATURE_ACK_TYPE } from '../src/catalog/topology.ts'
import { loadConfig } from '../src/config.ts'
import type { Ctx } from '../src/context.ts'
import { HeraldEvents } from '../src/events.ts'
import { createLogger } from '../src/log.ts'
import { listProducts } from '../src/catalog/queries/list-products.ts'
import { featureUrn } from '../src/catalog/urn.ts'
import { BACKENDS, openTestDatabase, type TestDatabase } from './support/services.ts'

const TENANT = 'project1'
const FAILING = 'project2'

/** The catalog worker's passes, on the database alone (no broker): what it sends, in which order, and what it stores. */
for (const backend of BACKENDS) {
  describe(`${backend}: catalog worker passes`, () => {
    let database: TestDatabase

    beforeAll(async () => {
      database = await openTestDatabase(backend)
    })
    afterAll(async () => {
      await database?.drop()
    })
    beforeEach(async () => {
      await sql`delete from catalog_request`.execute(database.db)
      await sql`delete from catalog_product`.execute(database.db)
      await sql`delete from outbox`.execute(database.db)
      await sql`delete from catalog_counter`.execute(database.db)
    })

    const outbox = async () => {
      const { rows } = await sql<{ exchange: string; headers: Record<string, string>; body: string }>`select exchange, headers, body from outbox order by id`.execute(database.db)
      return rows.map((r) => ({ ...r, body: JSON.parse(r.body) }))
    }

    it('sends a backlog larger than a pass HIGH before NORMAL before LOW, then oldest request date first, across passes', async () => {
      const now = Date.now()
      const rows = Array.from({ length: 2500 }, (_, i) => ({
        request_id: `r-${i}`,
        priority: (i * 7919) % 3,
        // Distinct past dates in shuffled order; a few requests are in the future and must wait.
        request_date: new Date(now - 100_000 + ((i * 104_729) % 90_000) + (i % 250 === 0 ? 200_000 : 0)).toISOString(),
      }))
      await sql`insert into catalog_request (tenant, request_id, request_owner, type, state, step, priority, request_date, urn, to_notify, metadata)
        select ${TENANT}, request_id, 'o', 'NOTIFICATION', 'GRANTED', 'LOCAL_TO_BE_NOTIFIED', priority, request_date, 'URN:FEATURE:DATA:p:1-1-1-1-1:V1', '{}'::jsonb, '{}'::jsonb
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as t(request_id text, priority int, request_date timestamptz)`.execute(database.db)
      const passes: number[] = []
      for (;;) {
        const work = await processDueRequests(database.db, TENANT, new Date(now), 1000)
        if (work.sent === 0) break
        passes.push(work.sent)
      }
      const due = rows.filter((r) => Date.parse(r.request_date) <= now)
      expect(passes).toEqual([1000, 1000, due.length - 2000])
      const sentIds = (await outbox()).map((m) => m.headers['regards.request.id'])
      const expected = [...due].sort((a, b) => b.priority - a.priority || Date.parse(a.request_date) - Date.parse(b.request_date)).map((r) => r.request_id)
      expect(sentIds).toEqual(expected)
      const { rows: waiting } = await sql<{ count: number }>`select count(*) as count from catalog_request where step = 'LOCAL_TO_BE_NOTIFIED'`.execute(database.db)
      expect(Number(waiting[0].count)).toBe(rows.length - due.length)
    })

    it('hands back only the failing tenant\'s messages when another tenant committed, so the retry applies nothing twice', async () => {
      const ctx = { config: loadConfig({}), log: createLogger('silent'), db: database.db, backend, events: new HeraldEvents(createLogger('silent')), signals: { outbox() {}, deliveries() {}, announceDeliveries() {}, sendNow: () => SEND_NOTHING_NOW, takeConfirmedOutbox: () => NOTHING_TAKEN } } as unknown as Ctx
      const msg = (headers: Record<string, unknown>, body: unknown) => ({ headers, body: Buffer.from(JSON.stringify(body)), redelivered: false }) as unknown as AsyncMessage
      // The other tenant's first registration and its first counter fail (a sequence is not rolled back with them).
      for (const statement of [
        'create sequence fails_once_catalog_request',
        'create sequence fails_once_catalog_counter',
        `create function fail_once() returns trigger language plpgsql as $$
          begin
            if new.tenant = '${FAILING}' and nextval('fails_once_' || tg_table_name) = 1 then raise exception 'tenant ${FAILING} fails once'; end if;
            return new;
          end $$`,
        'create trigger fail_once before insert on catalog_request for each row execute function fail_once()',
        'create trigger fail_once before insert on catalog_counter for each row execute function fail_once()',
      ]) {
        await sql.raw(statement).execute(database.db)
      }
      const creation = (tenant: string, requestId: string) =>
        msg({ 'regards.tenant': tenant, 'regards.request.id': requestId, 'regards.request.owner': 'o' }, { feature: { id: 'p' }, metadata: { sessionOwner: 'so', session: 's' } })
      const batch = [creation(TENANT, 'once'), creation(FAILING, 'fails-once')]
      const first = await handleRequestBatch(ctx, REQUEST_SPECS.CREATION, batch, () => {})
      expect(first[0]).toEqual({ ack: true })
      expect(first[1]).toHaveProperty('retry')
      // What the consumer does: only the message handed back goes to the handler again.
      expect(await handleRequestBatch(ctx, REQUEST_SPECS.CREATION, [batch[1]], () => {})).toEqual([{ ack: true }])
      const states = (await outbox()).map((e) => `${e.body.requestId}:${e.body.state}`)
      expect(states.sort()).toEqual(['fails-once:GRANTED', 'once:GRANTED'])

      await processDueRequests(database.db, TENANT, new Date(), 10)
      const urn = featureUrn(TENANT, 'p', 1)
      await sql`insert into catalog_dissemination (product_id, tenant, label, request_date) select id, tenant, 'l', now() - interval '1 minute' from catalog_product`.execute(database.db)
      const acks = [
        msg({ 'regards.tenant': TENANT, 'regards.type': FEATURE_ACK_TYPE }, { urn, recipientLabel: 'l' }),
        msg({ 'regards.tenant': FAILING, 'regards.type': FEATURE_ACK_TYPE }, { urn: featureUrn(FAILING, 'unknown', 1), recipientLabel: 'l' }),
      ]
      const firstAcks = await handleAckBatch(ctx, FEATURE_ACK_TYPE, acks, () => {})
      expect(firstAcks[0]).toEqual({ ack: true })
      expect(firstAcks[1]).toHaveProperty('retry')
      expect(await handleAckBatch(ctx, FEATURE_ACK_TYPE, [acks[1]], () => {})).toEqual([{ ack: true }])
      const { rows } = await sql<{ tenant: string; name: string; value: string }>`select tenant, name, value from catalog_counter order by tenant, name`.execute(database.db)
      expect(rows.map((r) => `${r.tenant} ${r.name} ${r.value}`)).toEqual([`${FAILING} ack.unknown-urn 1`])
      await sql`drop trigger fail_once on catalog_request`.execute(database.db)
      await sql`drop trigger fail_once on catalog_counter`.execute(database.db)
    })

    it('numbers several creations of one provider id in one pass, applies a patch and a deletion after them', async () => {
      const body = (properties: Record<string, unknown>) => ({ feature: { type: 'Feature', id: 'prov', properties }, sessionOwner: 'so', session: 's', updateIfExists: false, override: false })
      const provided = featureUrn('elsewhere', 'x', 7)
      const reqs = [
        { request_id: 'c1', type: 'CREATION', provider_id: 'prov', urn: null, body: body({ n: 1 }) },
        { request_id: 'c2', type: 'CREATION', provider_id: 'prov', urn: null, body: body({ n: 2 }) },
        { request_id: 'c3', type: 'CREATION', provider_id: 'prov', urn: null, body: body({ n: 3 }) },
        { request_id: 'c4', type: 'CREATION', provider_id: 'other', urn: provided, body: { ...body({}), feature: { id: 'other', urn: provided } } },
        { request_id: 'p1', type: 'PATCH', provider_id: null, urn: provided, body: { patch: { urn: provided, properties: { patched: true } } } },
        { request_id: 'd1', type: 'DELETION', provider_id: null, urn: featureUrn(TENANT, 'prov', 1), body: null },
      ]
      await sql`insert into catalog_request (tenant, request_id, request_owner, type, state, step, priority, request_date, urn, provider_id, body)
        select ${TENANT}, request_id, 'o', type, 'GRANTED', 'LOCAL_DELAYED', 1, now() - interval '1 second', urn, provider_id, body
        from jsonb_to_recordset(${JSON.stringify(reqs)}::jsonb) as t(request_id text, type text, provider_id text, urn text, body jsonb)`.execute(database.db)
      const work = await processDueRequests(database.db, TENANT, new Date(), 100)
      expect(work.processed).toBe(6)
      expect(work.sent).toBe(6)
      const products = (await listProducts(database.db, TENANT, { withContent: true })).items
      expect(products.map((p) => [p.urn, p.version, p.last])).toEqual([
        [featureUrn(TENANT, 'prov', 2), 2, false],
        [featureUrn(TENANT, 'prov', 3), 3, true],
        [provided, 7, true],
      ])
      expect((products[2].content as any).properties).toEqual({ patched: true })
      const events = await outbox()
      const responses = events.filter((e) => e.exchange.endsWith('FeatureRequestEvent')).map((e) => `${e.body.requestId}:${e.body.type}:${e.body.state}`)
      expect(responses).toEqual(['c1:CREATION:SUCCESS', 'c2:CREATION:SUCCESS', 'c3:CREATION:SUCCESS', 'c4:CREATION:SUCCESS', 'p1:PATCH:SUCCESS', 'd1:DELETION:SUCCESS'])
      const actions = events.filter((e) => e.exchange.endsWith('NotificationRequestEvent')).map((e) => `${e.headers['regards.request.id']}:${e.body.metadata.action}`)
      expect(actions.sort()).toEqual(['c1:CREATED', 'c2:CREATED', 'c3:CREATED', 'c4:CREATED', 'd1:DELETED', 'p1:UPDATED'])
    })
  })
}
