import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getProduct } from '../src/catalog/queries/get-product.ts'
import { listProducts } from '../src/catalog/queries/list-products.ts'
import type { Herald } from '../src/main.ts'
import { CatalogClient, type Received } from './support/catalog-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const queueArgs = { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' }

/** One Herald with the catalog and notifier roles, talking to each other over AMQP only, as rs-fem and rs-notifier. */
for (const backend of BACKENDS) {
  describe(`${backend}: catalog → notifier → recipients → dissemination tracking`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald
    let client: CatalogClient
    const archive: Received[] = []
    const mirror: Received[] = []

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['notifier', 'catalog'] })
      await importConfig(herald, TENANT, [
        pluginConf('RabbitMQSender', 'archive', { exchange: 'ext.archive', queueName: 'ext.archive.q', recipientLabel: 'archive', ackRequired: true, blockingRequired: true }),
        pluginConf('RabbitMQSender', 'mirror', { exchange: 'ext.mirror', queueName: 'ext.mirror.q', recipientLabel: 'mirror', directNotificationEnabled: true }),
        pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
        association('created', ['archive', 'mirror']),
      ])
      client = new CatalogClient(vhost.url)
      await client.listenResponses()
      for (const [exchange, queue, into] of [['ext.archive', 'ext.archive.q', archive], ['ext.mirror', 'ext.mirror.q', mirror]] as const) {
        await client.rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
        await client.rabbit.queueDeclare({ queue, durable: true, arguments: queueArgs })
        await client.rabbit.queueBind({ queue, exchange, routingKey: '' })
        await client.collect(queue, into as Received[])
      }
    })

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('creates, notifies through the rules, records each recipient dissemination, and tracks the ack', async () => {
      const providerId = `e2e-${randomUUID()}`
      const requestId = randomUUID()
      await client.create(TENANT, requestId, { type: 'Feature', id: providerId, properties: { level: 'L1' } })
      await waitFor(() => client.responsesFor(requestId).some((r) => r.type === 'NOTIFICATION'), 'notification outcome', { timeoutMs: 20_000, wakeOn: client.onMessage })
      expect(client.responsesFor(requestId).map((r) => `${r.state}/${r.type}`)).toEqual(['GRANTED/CREATION', 'SUCCESS/CREATION', 'SUCCESS/NOTIFICATION'])
      const urn = client.responsesFor(requestId)[1].urn
      await waitFor(() => archive.some((m) => m.body.payload?.urn === urn) && mirror.some((m) => m.body.payload?.urn === urn), 'both recipients', { timeoutMs: 10_000, wakeOn: client.onMessage })
      expect(archive.find((m) => m.body.payload?.urn === urn)!.body.metadata).toEqual({ action: 'CREATED', sessionOwner: 'owner', session: 'session-1' })
      const product = (await getProduct(herald.ctx.db, TENANT, urn))!
      expect(product.disseminationStatus).toBe('PENDING')
      expect(product.disseminationsInfo.map(({ label, blocking, ackDate }) => ({ label, blocking, acked: ackDate !== undefined }))).toEqual([
        { label: 'archive', blocking: true, acked: false },
        { label: 'mirror', blocking: false, acked: true },
      ])
      expect((await listProducts(herald.ctx.db, TENANT, { status: 'PENDING', label: 'archive' })).items.map((p) => p.urn)).toContain(urn)
      await client.ack(TENANT, urn, 'archive')
      await waitFor(async () => (await getProduct(herald.ctx.db, TENANT, urn))!.disseminationStatus === 'DONE', 'acknowledged', { timeoutMs: 10_000, wakeOn: client.onMessage })
    })

    it('sends a direct notification request to the listed recipient only and records that one', async () => {
      const requestId = randomUUID()
      await client.create(TENANT, requestId, { id: `direct-${randomUUID()}` })
      await waitFor(() => client.responsesFor(requestId).some((r) => r.type === 'NOTIFICATION'), 'creation notified', { timeoutMs: 20_000, wakeOn: client.onMessage })
      const urn = client.responsesFor(requestId)[1].urn
      const notifyId = randomUUID()
      await client.notify(TENANT, notifyId, { urn, priority: 'HIGH', recipients: ['mirror'] })
      await waitFor(() => client.responsesFor(notifyId).some((r) => r.state === 'SUCCESS'), 'direct SUCCESS', { timeoutMs: 20_000, wakeOn: client.onMessage })
      expect(mirror.filter((m) => m.body.payload?.urn === urn).map((m) => m.body.metadata.action)).toEqual(['CREATED', 'NOTIFIED'])
      expect(archive.filter((m) => m.body.payload?.urn === urn).map((m) => m.body.metadata.action)).toEqual(['CREATED'])
    })

    it('answers ERROR when the notifier denies a direct notification to an unknown recipient, recording nothing', async () => {
      const requestId = randomUUID()
      await client.create(TENANT, requestId, { id: `denied-${randomUUID()}` })
      await waitFor(() => client.responsesFor(requestId).some((r) => r.type === 'NOTIFICATION'), 'creation notified', { timeoutMs: 20_000, wakeOn: client.onMessage })
      const urn = client.responsesFor(requestId)[1].urn
      const before = (await getProduct(herald.ctx.db, TENANT, urn))!.disseminationsInfo
      const notifyId = randomUUID()
      await client.notify(TENANT, notifyId, { urn, priority: 'NORMAL', recipients: ['nobody'] })
      await waitFor(() => client.responsesFor(notifyId).some((r) => r.state === 'ERROR'), 'ERROR', { timeoutMs: 20_000, wakeOn: client.onMessage })
      expect(client.responsesFor(notifyId).at(-1).errors[0]).toBe('Notification error')
      expect((await getProduct(herald.ctx.db, TENANT, urn))!.disseminationsInfo).toEqual(before)
    })
  })
}
