import { randomUUID } from 'node:crypto'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegardsClient } from './support/amqp-client.ts'
import { luceneRule, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

for (const backend of BACKENDS) {
  describe(`${backend}: notification requests through the API (list, detail, retry, delete)`, () => {
    let f: HttpFixture
    let client: RegardsClient
    const good: AsyncMessage[] = []
    const ids = Array.from({ length: 3 }, () => randomUUID())
    const started = new Date()
    const get = (url: string, role = 'EXPLOIT') => f.call('GET', url, { as: [TENANT, role] }).then((r) => r.json())

    beforeAll(async () => {
      f = await startHttpFixture(backend)
      client = new RegardsClient(f.vhost.url)
      await client.listenToEvents()
      // ext.flaky exists as a direct exchange: the sender's fanout declaration fails (PRECONDITION_FAILED),
      // so every delivery to "flaky" fails until an operator removes it.
      await client.rabbit.exchangeDeclare({ exchange: 'ext.flaky', type: 'direct', durable: true })
      await client.rabbit.exchangeDeclare({ exchange: 'ext.good', type: 'fanout', durable: true })
      await client.rabbit.queueDeclare({ queue: 'ext.good.q', durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
      await client.rabbit.queueBind({ queue: 'ext.good.q', exchange: 'ext.good', routingKey: '' })
      await client.collect('ext.good.q', good)
      for (const body of [rabbitRecipient('flaky', { exchange: 'ext.flaky', maxAttempts: '1' }), rabbitRecipient('good', { exchange: 'ext.good' })]) {
        expect((await f.call('POST', '/api/v1/recipients', { body })).statusCode).toBe(201)
      }
      expect((await f.call('POST', '/api/v1/rules', { body: luceneRule('created', 'action:CREATED', ['flaky', 'good']) })).statusCode).toBe(201)
      for (const [i, requestId] of ids.entries()) {
        await client.publishRequest({ tenant: TENANT, requestId, owner: i === 0 ? 'alice' : 'bob', date: new Date(started.getTime() + i * 1000).toISOString(), body: { payload: { id: requestId }, metadata: { action: 'CREATED' } } })
      }
      await waitFor(async () => (await get('/api/v1/requests?state=ERROR')).items.length === 3, 'three requests in ERROR', { timeoutMs: 20_000 })
    })
    afterAll(async () => {
      await client?.close()
      await f?.close()
    })

    it('lists requests newest first, filtered by state, recipient, owner, request id and date, page by page', async () => {
      const all = await get('/api/v1/requests')
      expect(all.items.map((r: any) => r.requestId)).toEqual([...ids].reverse())
      expect(all.items[0]).toMatchObject({ state: 'ERROR', mode: 'RULES', requestOwner: 'bob', completedAt: null, deliveries: { pending: 0, sending: 0, success: 1, error: 1 } })
      expect((await get('/api/v1/requests?recipient=flaky')).items).toHaveLength(3)
      expect((await get('/api/v1/requests?recipient=nobody')).items).toHaveLength(0)
      expect((await get('/api/v1/requests?owner=alice')).items.map((r: any) => r.requestId)).toEqual([ids[0]])
      expect((await get(`/api/v1/requests?requestId=${ids[1]}`)).items.map((r: any) => r.requestId)).toEqual([ids[1]])
      const from = new Date(started.getTime() + 500).toISOString()
      const to = new Date(started.getTime() + 1500).toISOString()
      expect((await get(`/api/v1/requests?from=${from}&to=${to}`)).items.map((r: any) => r.requestId)).toEqual([ids[1]])
      expect((await get('/api/v1/requests?state=SCHEDULED')).items).toHaveLength(0)
      const page1 = await get('/api/v1/requests?limit=2')
      const page2 = await get(`/api/v1/requests?limit=2&cursor=${page1.nextCursor}`)
      expect([...page1.items, ...page2.items].map((r: any) => r.requestId)).toEqual([...ids].reverse())
      expect(page2.nextCursor).toBeUndefined()
    })

    it('shows a request with its deliveries and every failed attempt, and the recipient its last error', async () => {
      const detail = await get(`/api/v1/requests/${ids[0]}`)
      expect(detail).toMatchObject({ requestId: ids[0], state: 'ERROR', payload: { id: ids[0] }, metadata: { action: 'CREATED' } })
      const byRecipient = Object.fromEntries(detail.deliveries.map((d: any) => [d.recipient, d]))
      // (good may have needed a second attempt: flaky's failed declaration closes the channel good declares on too)
      expect(byRecipient.good).toMatchObject({ state: 'SUCCESS', lastError: null, sentAt: expect.any(String) })
      expect(byRecipient.flaky).toMatchObject({ state: 'ERROR', attempts: 1, recipientLabel: 'flaky', lastError: expect.stringMatching(/ext\.flaky/) })
      expect(byRecipient.flaky.history).toEqual([{ attempt: 1, at: expect.any(String), outcome: 'ERROR', errorClass: 'AMQP_DECLARE', message: expect.stringMatching(/ext\.flaky/) }])
      const flaky = await get('/api/v1/recipients/flaky')
      expect(flaky.state).toMatchObject({ backlog: 0, errors: 3, lastError: { message: expect.stringMatching(/ext\.flaky/), at: expect.any(String) } })
      const metrics = (await f.call('GET', '/metrics', { as: null })).body
      expect(metrics).toMatch(/herald_recipient_errors\{tenant="project1",recipient="flaky"\} 3/)
      expect((await f.call('GET', `/api/v1/requests/${randomUUID()}`)).statusCode).toBe(404)
    })

    it('retries one recipient of one request (EXPLOIT): GRANTED, then SUCCESS, and only the failed recipient is sent again', async () => {
      await client.rabbit.exchangeDelete({ exchange: 'ext.flaky' })
      const goodBefore = good.length
      const retried = await f.call('POST', `/api/v1/requests/${ids[0]}/retry?recipient=flaky`, { as: [TENANT, 'EXPLOIT'] })
      expect(retried.json()).toEqual({ requests: 1, deliveries: 1, rematched: 0 })
      await waitFor(() => client.eventsFor(ids[0]).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS after retry', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(client.eventsFor(ids[0]).map((e) => e.body.state)).toEqual(['GRANTED', 'ERROR', 'GRANTED', 'SUCCESS'])
      expect(good.length).toBe(goodBefore)
      const done = await get(`/api/v1/requests/${ids[0]}`)
      expect(done).toMatchObject({ state: 'SUCCESS', completedAt: expect.any(String) })
      // Completed requests keep their deliveries and the failed attempts.
      const flakyDelivery = done.deliveries.find((d: any) => d.recipient === 'flaky')
      expect(flakyDelivery).toMatchObject({ state: 'SUCCESS', recipientLabel: 'flaky' })
      expect(flakyDelivery.history.length).toBeGreaterThan(0)
      expect(done.recipients).toEqual(expect.arrayContaining([expect.objectContaining({ label: 'flaky', status: 'SUCCESS' })]))
      expect((await get('/api/v1/requests?state=SUCCESS')).items.map((r: any) => r.requestId)).toEqual([ids[0]])
      // A request with nothing to retry: 0, and an unknown one: 404.
      expect((await f.call('POST', `/api/v1/requests/${ids[0]}/retry`)).json()).toEqual({ requests: 0, deliveries: 0, rematched: 0 })
      expect((await f.call('POST', `/api/v1/requests/${randomUUID()}/retry`)).statusCode).toBe(404)
    })

    it('retries a selection of requests, then every failure of the tenant', async () => {
      const some = await f.call('POST', '/api/v1/requests/retry', { as: [TENANT, 'EXPLOIT'], body: { requestIds: [ids[1]] } })
      expect(some.json()).toEqual({ requests: 1, deliveries: 1, rematched: 0 })
      const rest = await f.call('POST', '/api/v1/requests/retry', { body: { all: true } })
      expect(rest.json().requests).toBeLessThanOrEqual(1)
      await waitFor(async () => (await get('/api/v1/requests?state=SUCCESS')).items.length === 3, 'all three SUCCESS', { timeoutMs: 15_000 })
      expect((await get('/api/v1/recipients/flaky')).state).toMatchObject({ errors: 0, lastError: null })
      const both = await f.call('POST', '/api/v1/requests/retry', { body: { all: true, requestIds: [ids[0]] } })
      expect([both.statusCode, both.json().code]).toEqual([400, 'HERALD_ERR_VALIDATION'])
    })

    it('deletes a request (ADMIN only): live and history', async () => {
      expect((await f.call('DELETE', `/api/v1/requests/${ids[2]}`, { as: [TENANT, 'EXPLOIT'] })).statusCode).toBe(403)
      expect((await f.call('DELETE', `/api/v1/requests/${ids[2]}`)).statusCode).toBe(204)
      expect((await f.call('GET', `/api/v1/requests/${ids[2]}`)).statusCode).toBe(404)
      expect((await f.call('DELETE', `/api/v1/requests/${ids[2]}`)).statusCode).toBe(404)
      expect((await get('/api/v1/requests')).items).toHaveLength(2)
    })
  })
}
