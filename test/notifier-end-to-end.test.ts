import { randomUUID } from 'node:crypto'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const feature = (type: string) => ({
  type: 'Feature',
  id: `product-${randomUUID()}`,
  urn: `URN:FEATURE:DATA:${TENANT}:${randomUUID()}:V1`,
  properties: { is_valid: true, type, count: 46, nested: { nature: 'TM' } },
})

for (const backend of BACKENDS) {
  describe(`${backend}: a REGARDS client publishing NotificationRequestEvents`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald
    let client: RegardsClient
    const queueA: AsyncMessage[] = []
    const queueB: AsyncMessage[] = []

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      await importConfig(herald, TENANT, [
        pluginConf('RabbitMQSender', 'system-a', { exchange: 'ext.a', queueName: 'ext.a.queue', recipientLabel: 'system-a', ackRequired: true, blockingRequired: true }),
        pluginConf('RabbitMQSender', 'system-b', { exchange: 'ext.b', queueName: 'ext.b.queue', recipientLabel: 'system-b', directNotificationEnabled: true }),
        pluginConf('RabbitMQSender', 'unlabelled', { exchange: 'ext.c', queueName: 'ext.c.queue' }),
        pluginConf('LuceneRuleMatcher', 'created-valid', { metadata_rule: 'action:CREATED', payload_rule: 'properties.is_valid:true' }),
        pluginConf('DefaultRuleMatcher', 'nature-tm', { attributeToSeek: 'nature', attributeValueToSeek: 'TM' }),
        association('created-valid', ['system-a', 'system-b']),
        association('nature-tm', ['unlabelled']),
      ])
      client = new RegardsClient(vhost.url)
      await client.listenToEvents()
      // The recipients' queues are declared by the sender on first use: declare them now to read them.
      for (const [exchange, queue] of [['ext.a', 'ext.a.queue'], ['ext.b', 'ext.b.queue']]) {
        await client.rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
        await client.rabbit.queueDeclare({ queue, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
        await client.rabbit.queueBind({ queue, exchange, routingKey: '' })
      }
      await client.collect('ext.a.queue', queueA)
      await client.collect('ext.b.queue', queueB)
    })

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('answers GRANTED, delivers the product unchanged to every matched recipient, then SUCCESS', async () => {
      const requestId = randomUUID()
      const payload = feature('L2_RAD_GDR')
      const metadata = { action: 'CREATED', sessionOwner: 'owner', session: 's1' }
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', date: new Date().toISOString(), body: { payload, metadata } })
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 15_000, wakeOn: client.onMessage })
      const events = client.eventsFor(requestId)
      expect(events.map((e) => e.body.state)).toEqual(['GRANTED', 'SUCCESS'])
      const success = events[1].body
      expect(success.requestOwner).toBe('rs-fem')
      expect(success.recipients).toEqual(
        expect.arrayContaining([
          { label: 'system-a', status: 'SUCCESS', ackRequired: true, blockingRequired: true },
          { label: 'system-b', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
        ]),
      )
      // The unlabelled recipient is delivered (DefaultRuleMatcher nature=TM) but not reported.
      expect(success.recipients).toHaveLength(2)
      expect(success.notificationDate).toMatch(/Z$/)

      const delivered = (queue: AsyncMessage[]) => queue.map((m) => JSON.parse((m.body as Buffer).toString('utf8'))).filter((b) => b.payload.id === payload.id)
      expect(delivered(queueA)).toEqual([{ payload, metadata }])
      expect(delivered(queueB)).toEqual([{ payload, metadata }])
      const message = queueA.find((m) => JSON.parse((m.body as Buffer).toString()).payload.id === payload.id)!
      expect(message.headers?.['regards.type']).toBe('fr.cnes.regards.modules.notifier.plugins.RabbitMQSender$NotificationEvent')
      expect(message.headers?.['regards.tenant']).toBe(TENANT)
    })

    it('publishes events with the REGARDS headers and properties', async () => {
      const requestId = randomUUID()
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { payload: feature('X'), metadata: { action: 'UPDATED' } } })
      await waitFor(() => client.eventsFor(requestId).length >= 2, 'two events', { timeoutMs: 15_000, wakeOn: client.onMessage })
      const event = client.eventsFor(requestId)[0]
      expect(event.headers).toMatchObject({
        'regards.tenant': TENANT,
        'regards.type': 'fr.cnes.regards.modules.notifier.dto.out.NotifierEvent',
        'regards.converter': 'GSON',
      })
      expect(event.raw.contentType).toBe('application/json')
      expect(event.raw.contentEncoding).toBe('UTF-8')
      expect(event.raw.durable).toBe(true)
      expect(event.raw.appId).toBe('REGARDS')
      expect(event.raw.priority).toBe(1)
      expect(Object.keys(event.body)).toEqual(['requestId', 'requestOwner', 'state', 'recipients', 'notificationDate'])
    })

    it('completes a request that matches no rule as SUCCESS with no recipients', async () => {
      const requestId = randomUUID()
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { payload: { properties: { is_valid: false } }, metadata: { action: 'DELETED' } } })
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(client.eventsFor(requestId).map((e) => [e.body.state, e.body.recipients])).toEqual([
        ['GRANTED', []],
        ['SUCCESS', []],
      ])
    })

    it('delivers a direct notification to the listed recipients only (TO_SCHEDULE_BY_RECIPIENT, then SUCCESS)', async () => {
      const requestId = randomUUID()
      const payload = feature('direct')
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', direct: true, body: { payload, metadata: {}, recipients: ['system-b'] } })
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(client.eventsFor(requestId).map((e) => e.body.state)).toEqual(['TO_SCHEDULE_BY_RECIPIENT', 'SUCCESS'])
      expect(client.eventsFor(requestId)[1].body.recipients).toEqual([{ label: 'system-b', status: 'SUCCESS', ackRequired: false, blockingRequired: false }])
      await waitFor(() => queueB.some((m) => JSON.parse((m.body as Buffer).toString()).payload.id === payload.id), 'delivery to B', { timeoutMs: 5000, wakeOn: client.onMessage })
      expect(queueA.some((m) => JSON.parse((m.body as Buffer).toString()).payload.id === payload.id)).toBe(false)
    })
  })
}
