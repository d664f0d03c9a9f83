import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DLX, NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE, SPECIFIC_RECIPIENT_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { FEATURE_CREATION_QUEUE, INGEST_ACK_QUEUE } from '../src/catalog/topology.ts'
import { heraldConsumerQueues, startDeadLetterCollector } from '../src/dead-letters/collector.ts'
import { insertDeadLetter } from '../src/dead-letters/store.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

for (const backend of BACKENDS) {
  describe(`${backend}: dead-lettered messages (collect, list, inspect, re-inject, discard)`, () => {
    let f: HttpFixture
    let client: RegardsClient
    let stopCollector: () => Promise<void>
    let publisher: ReturnType<RegardsClient['rabbit']['createPublisher']>
    const list = async (tenant = TENANT) => (await f.call('GET', '/api/v1/dead-letters', { as: [tenant, 'EXPLOIT'] })).json().items as any[]

    /** A message as Herald's batch consumer dead-letters it (x-exception-message, x-original-*). */
    async function deadLetterLikeHerald(requestId: string, tenant: string | null = TENANT): Promise<void> {
      await publisher.send(
        {
          exchange: DLX,
          routingKey: `${NOTIFICATION_REQUEST_QUEUE}.DLQ`,
          durable: true,
          priority: 3,
          contentType: 'application/json',
          contentEncoding: 'UTF-8',
          headers: {
            ...(tenant ? { 'regards.tenant': tenant } : {}),
            'regards.request.id': requestId,
            'regards.request.owner': 'dl-test',
            'x-exception-message': 'processing failed 3 times: database exploded',
            'x-original-exchange': NOTIFICATION_REQUEST_EXCHANGE,
            'x-original-routingKey': '',
            'x-death-queue': NOTIFICATION_REQUEST_QUEUE,
          },
        },
        Buffer.from(JSON.stringify({ payload: { id: requestId, é: 'ünïcode' }, metadata: { action: 'DL' } })),
      )
    }

    beforeAll(async () => {
      f = await startHttpFixture(backend)
      stopCollector = await startDeadLetterCollector(f.herald.ctx, ['notifier', 'http'])
      client = new RegardsClient(f.vhost.url)
      await client.listenToEvents()
      publisher = client.rabbit.createPublisher({ confirm: true })
    })
    afterAll(async () => {
      await publisher?.close()
      await stopCollector?.()
      await client?.close()
      await f?.close()
    })

    it("collects the DLQs of the consumer queues of this process's roles", () => {
      expect(heraldConsumerQueues(['notifier', 'http'])).toEqual([NOTIFICATION_REQUEST_QUEUE, SPECIFIC_RECIPIENT_REQUEST_QUEUE].sort())
      expect(heraldConsumerQueues(['catalog'])).toEqual(expect.arrayContaining([FEATURE_CREATION_QUEUE, INGEST_ACK_QUEUE]))
      expect(heraldConsumerQueues(['catalog'])).not.toContain(NOTIFICATION_REQUEST_QUEUE)
      expect(heraldConsumerQueues(['http'])).toEqual(expect.arrayContaining([NOTIFICATION_REQUEST_QUEUE, FEATURE_CREATION_QUEUE]))
    })

    it('lists and inspects a message dead-lettered by a consumer, in its tenant only', async () => {
      const requestId = randomUUID()
      await deadLetterLikeHerald(requestId)
      await waitFor(async () => (await list()).some((m) => m.requestId === requestId), 'dead letter collected', { timeoutMs: 15_000 })
      const [item] = (await list()).filter((m) => m.requestId === requestId)
      expect(item).toMatchObject({
        queue: NOTIFICATION_REQUEST_QUEUE,
        dlq: `${NOTIFICATION_REQUEST_QUEUE}.DLQ`,
        exchange: NOTIFICATION_REQUEST_EXCHANGE,
        reason: 'processing failed 3 times: database exploded',
        collectedAt: expect.any(String),
      })
      expect(item.tenant).toBeUndefined()
      const detail = (await f.call('GET', `/api/v1/dead-letters/${item.id}`, { as: [TENANT, 'EXPLOIT'] })).json()
      expect(detail.bodyEncoding).toBe('utf8')
      expect(JSON.parse(detail.body)).toEqual({ payload: { id: requestId, é: 'ünïcode' }, metadata: { action: 'DL' } })
      expect(detail.headers).toMatchObject({ 'regards.tenant': TENANT, 'regards.request.owner': 'dl-test', 'x-exception-message': expect.any(String) })
      expect(detail.properties).toMatchObject({ contentType: 'application/json', contentEncoding: 'UTF-8', priority: 3 })
      expect(await list('tenant-b')).toEqual([])
      expect((await f.call('GET', `/api/v1/dead-letters/${item.id}`, { as: ['tenant-b', 'ADMIN'] })).statusCode).toBe(404)
      expect((await f.call('GET', '/metrics', { as: null })).body).toContain(`herald_dead_letters{tenant="other",queue="${NOTIFICATION_REQUEST_QUEUE}"}`)
      // A tenant gets its own label once it has a configuration (any AMQP publisher can name a tenant).
      const recipient = { businessId: 'dl-labels', pluginId: 'RabbitMQSender', label: 'labels', parameters: [{ name: 'exchange', value: 'ext.dl-labels' }], active: false }
      expect((await f.call('POST', '/api/v1/recipients', { as: [TENANT, 'ADMIN'], body: recipient })).statusCode).toBe(201)
      // The label follows the configuration cache, which learns of the new configuration asynchronously.
      const labelled = `herald_dead_letters{tenant="project1",queue="${NOTIFICATION_REQUEST_QUEUE}"}`
      await waitFor(async () => (await f.call('GET', '/metrics', { as: null })).body.includes(labelled), 'the tenant label of a configured tenant', { timeoutMs: 10_000 })
    })

    it('re-injects it (EXPLOIT) into the queue it failed in: Herald processes it, the row is gone', async () => {
      const [item] = await list()
      const replayed = await f.call('POST', `/api/v1/dead-letters/${item.id}/replay`, { as: [TENANT, 'EXPLOIT'] })
      expect(replayed.json()).toEqual({ replayed: [item.id], missing: [] })
      await waitFor(() => client.eventsFor(item.requestId).some((e) => e.body.state === 'SUCCESS'), 'request processed after re-injection', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(client.eventsFor(item.requestId)[0].body).toMatchObject({ state: 'GRANTED', requestOwner: 'dl-test' })
      expect(await list()).toEqual([])
      expect((await f.call('POST', `/api/v1/dead-letters/${item.id}/replay`)).statusCode).toBe(404)
    })

    it('keeps what the broker itself dead-letters (x-death) and re-injects it without the dead-lettering headers', async () => {
      await client.rabbit.queueDeclare({
        queue: 'test.expiring',
        durable: true,
        arguments: { 'x-dead-letter-exchange': DLX, 'x-dead-letter-routing-key': `${SPECIFIC_RECIPIENT_REQUEST_QUEUE}.DLQ` },
      })
      const requestId = randomUUID()
      await publisher.send({ routingKey: 'test.expiring', expiration: '0', headers: { 'regards.tenant': TENANT, 'regards.request.id': requestId } }, Buffer.from([0xff, 0x00, 0xfe]))
      await waitFor(async () => (await list()).some((m) => m.requestId === requestId), 'expired message collected', { timeoutMs: 15_000 })
      const [item] = await list()
      expect(item).toMatchObject({ queue: 'test.expiring', dlq: `${SPECIFIC_RECIPIENT_REQUEST_QUEUE}.DLQ`, reason: 'expired', deadLetteredAt: expect.any(String), size: 3 })
      const detail = (await f.call('GET', `/api/v1/dead-letters/${item.id}`)).json()
      expect([detail.bodyEncoding, detail.body]).toEqual(['base64', Buffer.from([0xff, 0x00, 0xfe]).toString('base64')])
      expect(detail.headers['x-death']).toBeDefined()
      const replayed = await f.call('POST', '/api/v1/dead-letters/replay', { body: { all: true } })
      expect(replayed.json()).toEqual({ replayed: [item.id], missing: [] })
      const back = await client.rabbit.basicGet({ queue: 'test.expiring', noAck: true })
      expect(back?.headers).toEqual({ 'regards.tenant': TENANT, 'regards.request.id': requestId })
      expect(Buffer.from(back!.body as Buffer)).toEqual(Buffer.from([0xff, 0x00, 0xfe]))
    })

    it('refuses to re-inject where nothing would receive the message (400), and keeps it', async () => {
      await insertDeadLetter(f.herald.ctx.db, {
        tenant: TENANT, dlq: 'x.DLQ', queue: 'no.such.queue', exchange: 'no.such.exchange', routingKey: '', reason: 'test', headers: {}, properties: {}, body: Buffer.from('{}'), deadLetteredAt: null,
      })
      const [item] = await list()
      for (const target of ['queue', 'exchange']) {
        const r = await f.call('POST', `/api/v1/dead-letters/${item.id}/replay?target=${target}`)
        expect([r.statusCode, r.json().detail]).toEqual([400, expect.stringMatching(/does not exist/)])
      }
      expect((await list()).map((m) => m.id)).toEqual([item.id])
    })

    it('discards messages (ADMIN only), one or all', async () => {
      const [item] = await list()
      expect((await f.call('DELETE', `/api/v1/dead-letters/${item.id}`, { as: [TENANT, 'EXPLOIT'] })).statusCode).toBe(403)
      expect((await f.call('DELETE', `/api/v1/dead-letters/${item.id}`)).statusCode).toBe(204)
      expect((await f.call('DELETE', `/api/v1/dead-letters/${item.id}`)).statusCode).toBe(404)
      for (let i = 0; i < 3; i++) await deadLetterLikeHerald(randomUUID())
      await waitFor(async () => (await list()).length === 3, 'three collected', { timeoutMs: 15_000 })
      const page1 = (await f.call('GET', '/api/v1/dead-letters?limit=2')).json()
      const page2 = (await f.call('GET', `/api/v1/dead-letters?limit=2&cursor=${page1.nextCursor}`)).json()
      expect(page1.items.length + page2.items.length).toBe(3)
      expect((await f.call('POST', '/api/v1/dead-letters/discard', { body: { all: true, queue: 'other.queue' } })).json()).toEqual({ discarded: 0 })
      expect((await f.call('POST', '/api/v1/dead-letters/discard', { body: { all: true } })).json()).toEqual({ discarded: 3 })
      expect(await list()).toEqual([])
    })

    it('stores a message without a tenant header out of every tenant\'s reach', async () => {
      const requestId = randomUUID()
      await deadLetterLikeHerald(requestId, null)
      await waitFor(async () => {
        const { rows } = await (await import('kysely')).sql<{ n: number }>`select count(*)::int as n from dead_letter where tenant is null`.execute(f.herald.ctx.db)
        return rows[0].n === 1
      }, 'tenant-less dead letter collected', { timeoutMs: 15_000 })
      expect(await list()).toEqual([])
    })
  })
}
