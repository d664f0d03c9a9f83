import { sql } from 'kysely'
import { randomUUID } from 'node:crypto'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const bodyOf = (m: AsyncMessage) => JSON.parse((m.body as Buffer).toString('utf8'))

async function declareQueue(client: RegardsClient, exchange: string, queue: string, type = 'fanout') {
  await client.rabbit.exchangeDeclare({ exchange, type, durable: true })
  await client.rabbit.queueDeclare({ queue, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
  await client.rabbit.queueBind({ queue, exchange, routingKey: '' })
}

for (const backend of BACKENDS) {
  describe(`${backend}: retry by re-sending, delayed requests`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald
    let client: RegardsClient
    const received: { stable: AsyncMessage[]; flaky: AsyncMessage[] } = { stable: [], flaky: [] }

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      client = new RegardsClient(vhost.url)
      await declareQueue(client, 'ext.stable', 'ext.stable.q')
      await importConfig(herald, TENANT, [
        pluginConf('RabbitMQSender', 'stable', { exchange: 'ext.stable', recipientLabel: 'stable' }),
        pluginConf('RabbitMQSender', 'flaky', { exchange: 'ext.flaky', recipientLabel: 'flaky', maxAttempts: '1' }),
        pluginConf('LuceneRuleMatcher', 'all', {}),
        association('all', ['stable', 'flaky']),
      ])
      await client.listenToEvents()
      await client.collect('ext.stable.q', received.stable)
    })

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('re-sends only to the recipients in error, with the new body, and never twice to a success', async () => {
      // ext.flaky exists as a topic exchange: the fanout declaration of the flaky recipient fails.
      await client.rabbit.exchangeDeclare({ exchange: 'ext.flaky', type: 'topic', durable: true })
      const requestId = randomUUID()
      const date = new Date(Date.now() - 1000).toISOString()
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', date, body: { payload: { id: requestId, version: 1 }, metadata: {} } })
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'ERROR'), 'ERROR', { timeoutMs: 20_000, wakeOn: client.onMessage })
      expect(client.eventsFor(requestId).at(-1)!.body.recipients).toEqual([
        { label: 'stable', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
        { label: 'flaky', status: 'ERROR', ackRequired: false, blockingRequired: false },
      ])

      // The operator repairs the flaky side; the client re-sends the same id with a new body.
      await client.rabbit.exchangeDelete({ exchange: 'ext.flaky' })
      await declareQueue(client, 'ext.flaky', 'ext.flaky.q')
      await client.collect('ext.flaky.q', received.flaky)
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { payload: { id: requestId, version: 2 }, metadata: {} } })
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS after retry', { timeoutMs: 20_000, wakeOn: client.onMessage })

      const states = client.eventsFor(requestId).map((e) => e.body.state)
      expect(states).toEqual(['GRANTED', 'ERROR', 'GRANTED', 'SUCCESS'])
      // The retry's GRANTED carries the original request date (REGARDS).
      expect(client.eventsFor(requestId)[2].body.notificationDate).toBe(client.eventsFor(requestId)[3].body.notificationDate)
      expect(client.eventsFor(requestId).at(-1)!.body.recipients).toEqual([
        { label: 'stable', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
        { label: 'flaky', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
      ])
      await waitFor(() => received.flaky.some((m) => bodyOf(m).payload.id === requestId), 'flaky delivery', { timeoutMs: 5000, wakeOn: client.onMessage })
      expect(received.stable.filter((m) => bodyOf(m).payload.id === requestId).map((m) => bodyOf(m).payload.version)).toEqual([1])
      expect(received.flaky.filter((m) => bodyOf(m).payload.id === requestId).map((m) => bodyOf(m).payload.version)).toEqual([2])
      // The history keeps every delivery with its failed attempts, for audits.
      const { rows } = await sql<{ deliveries: any[] }>`select deliveries from request_history where request_id = ${requestId}`.execute(herald.ctx.db)
      const flaky = rows[0].deliveries.find((d) => d.recipient === 'flaky')
      expect(flaky).toMatchObject({ recipientLabel: 'flaky', state: 'SUCCESS', attempts: 1 })
      expect(flaky.history).toEqual([expect.objectContaining({ attempt: 1, outcome: 'ERROR', errorClass: 'AMQP_DECLARE' })])
      expect(rows[0].deliveries.find((d) => d.recipient === 'stable')).toMatchObject({ state: 'SUCCESS', history: [] })
    })

    it('treats a completed request id sent again as a new request', async () => {
      const requestId = randomUUID()
      for (let round = 1; round <= 2; round++) {
        await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { payload: { id: requestId, round }, metadata: {} } })
        await waitFor(() => client.eventsFor(requestId).filter((e) => e.body.state === 'SUCCESS').length === round, `SUCCESS ${round}`, { timeoutMs: 20_000, wakeOn: client.onMessage })
      }
      expect(received.stable.filter((m) => bodyOf(m).payload.id === requestId).map((m) => bodyOf(m).payload.round)).toEqual([1, 2])
    })

    it('holds a request dated in the future until its date', async () => {
      const requestId = randomUUID()
      const due = Date.now() + 2500
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', date: new Date(due).toISOString(), body: { payload: { id: requestId }, metadata: {} } })
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'GRANTED'), 'GRANTED', { timeoutMs: 10_000, wakeOn: client.onMessage })
      await waitFor(() => received.stable.some((m) => bodyOf(m).payload.id === requestId), 'delivery', { timeoutMs: 15_000, wakeOn: client.onMessage })
      const deliveredAt = Date.now()
      expect(deliveredAt).toBeGreaterThanOrEqual(due)
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 10_000, wakeOn: client.onMessage })
    })

    it('completes a delayed request that matches nobody once due, and counts it as every completion is', async () => {
      await importConfig(herald, 'quiet', [
        pluginConf('RabbitMQSender', 'nobody', { exchange: 'ext.stable', recipientLabel: 'nobody' }),
        pluginConf('LuceneRuleMatcher', 'never', { metadata_rule: 'action:NEVER' }),
        association('never', ['nobody']),
      ])
      const completed: unknown[] = []
      const count = (e: unknown) => completed.push(e)
      herald.ctx.events.on('request:completed', count)
      try {
        const requestId = randomUUID()
        const date = new Date(Date.now() + 1500).toISOString()
        await client.publishRequest({ tenant: 'quiet', requestId, owner: 'me', date, body: { payload: { id: requestId }, metadata: { action: 'CREATED' } } })
        await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { wakeOn: client.onMessage })
        expect(client.eventsFor(requestId).map((e) => e.body.state)).toEqual(['GRANTED', 'SUCCESS'])
        // Completed by the matching of due requests, not by a delivery: the metric counts it all the same.
        expect(completed).toEqual([{ tenant: 'quiet', state: 'SUCCESS', count: 1 }])
      } finally {
        herald.ctx.events.off('request:completed', count)
      }
    })
  })
}

describe('postgres: AMQP priority under a backlog', () => {
  it('completes higher-priority requests first', async () => {
    const vhost = await createVhost()
    const storage = await createTestStorage('postgres')
    const client = new RegardsClient(vhost.url)
    let herald: Herald | undefined
    try {
      // Herald is not running yet: the requests wait in the queue, as a backlog.
      const { NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE } = await import('../src/amqp/topology.ts')
      const { declareConsumerTopology } = await import('../src/amqp/topology.ts')
      await declareConsumerTopology(client.rabbit, NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE)
      await client.listenToEvents()
      const low = Array.from({ length: 300 }, () => randomUUID())
      const high = Array.from({ length: 30 }, () => randomUUID())
      for (const id of low) await client.publishRequest({ tenant: TENANT, requestId: id, owner: 'me', priority: 1, body: { payload: { id }, metadata: {} } })
      for (const id of high) await client.publishRequest({ tenant: TENANT, requestId: id, owner: 'me', priority: 200, body: { payload: { id }, metadata: {} } })
      herald = await startTestHerald({ storage, amqpUrl: vhost.url, env: { HERALD_INTAKE_BATCH_SIZE: '50' } })
      await waitFor(() => client.events.filter((e) => e.body.state === 'SUCCESS').length === 330, 'all SUCCESS', { timeoutMs: 30_000, wakeOn: client.onMessage })
      const order = client.events.filter((e) => e.body.state === 'SUCCESS').map((e) => e.body.requestId)
      const rank = (ids: string[]) => ids.reduce((sum, id) => sum + order.indexOf(id), 0) / ids.length
      // Every high-priority request completes before the median low-priority one.
      expect(Math.max(...high.map((id) => order.indexOf(id)))).toBeLessThan(150)
      expect(rank(high)).toBeLessThan(rank(low))
    } finally {
      await client.close()
      await herald?.stop()
      await storage.drop()
      await vhost.drop()
    }
  })
})
