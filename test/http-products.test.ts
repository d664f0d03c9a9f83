import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listRequests } from '../src/catalog/queries/list-requests.ts'
import { startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { CatalogClient } from './support/catalog-client.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const DENIAL = 'no recipient plugin configuration matches'

/**
 * The catalog's REST reads on products that entered as FEM requests through the broker (the catalog role
 * runs; the test plays the FEM client, the notifier and the recipient that acknowledges).
 */
for (const backend of BACKENDS) {
  describe(`${backend}: catalog products and dissemination status through the API`, () => {
    let f: HttpFixture
    let client: CatalogClient
    const urns: string[] = []
    let otherUrn: string
    let failedRequest: string
    let blockedDeletion: string

    const responded = (requestId: string, type: string) =>
      waitFor(() => client.responsesFor(requestId).some((r) => r.type === type && r.state !== 'GRANTED'), `${type} answer to ${requestId}`, { wakeOn: client.onMessage })
    /** A feature created by a FEM request, notified, and answered by the notifier as delivered to `recipients`. */
    const product = async (tenant: string, providerId: string, recipients: { label: string; ackRequired: boolean; blockingRequired: boolean }[]) => {
      const requestId = randomUUID()
      await client.create(tenant, requestId, { type: 'Feature', id: providerId, properties: {} })
      await waitFor(() => client.sentFor(requestId).length > 0, `creation of ${providerId} notified`, { wakeOn: client.onMessage })
      const message = client.sentFor(requestId)[0]
      await client.notifierEvent(tenant, {
        requestId,
        state: 'SUCCESS',
        notificationDate: String(message.headers['regards.request.date']),
        recipients: recipients.map((r) => ({ ...r, status: 'SUCCESS' })),
      })
      await responded(requestId, 'NOTIFICATION')
      return message.body.payload.urn as string
    }
    /** A notification request the notifier denied, saying why: in ERROR with the reason. */
    const failedNotification = async (tenant: string, urn: string) => {
      const requestId = randomUUID()
      await client.notify(tenant, requestId, { urn, priority: 'NORMAL' })
      await waitFor(() => client.sentFor(requestId).length > 0, 'notification sent', { wakeOn: client.onMessage })
      await client.notifierEvent(tenant, { requestId, state: 'DENIED', errors: [DENIAL] })
      await responded(requestId, 'NOTIFICATION')
      return requestId
    }

    beforeAll(async () => {
      f = await startHttpFixture(backend, { roles: ['catalog'] })
      client = new CatalogClient(f.vhost.url)
      await client.listenResponses()
      await client.listenToNotifierRequests()
      const archive = { label: 'mission-b', ackRequired: true, blockingRequired: true }
      // Three products: never disseminated, waiting for mission-b's ack, acknowledged by mission-b.
      urns.push(await product(TENANT, 'provider-1', []))
      urns.push(await product(TENANT, 'provider-2', [archive]))
      urns.push(await product(TENANT, 'provider-3', [archive]))
      await client.ack(TENANT, urns[2], 'mission-b')
      otherUrn = await product('other', 'provider-9', [])
      // One catalog request in ERROR, one still running (a deletion waiting for mission-b's ack), one of another tenant in ERROR.
      failedRequest = await failedNotification(TENANT, urns[1])
      await failedNotification('other', otherUrn)
      blockedDeletion = randomUUID()
      await client.delete(TENANT, blockedDeletion, urns[1])
      const db = f.herald.ctx.db
      await waitFor(async () => (await listRequests(db, TENANT, { requestId: blockedDeletion, step: 'WAITING_BLOCKING_DISSEMINATION' })).items.length === 1, 'deletion waiting', { wakeOn: client.onMessage })
      // Counters of both tenants: an ack for a URN nobody has, in each.
      await client.ack(TENANT, urns[0].replace(/:V1$/, ':V7'), 'mission-b')
      await client.ack('other', otherUrn.replace(/:V1$/, ':V7'), 'mission-b')
      await waitFor(async () => (await get('/api/v1/products?status=DONE')).items.length === 1, 'ack of provider-3 recorded', { wakeOn: client.onMessage })
      await waitFor(async () => Object.keys(await get('/api/v1/catalog/counters')).length > 0, 'unknown URN counted', { wakeOn: client.onMessage })
    })
    afterAll(async () => {
      await client?.close()
      await f?.close()
    })

    const get = async (url: string) => (await f.call('GET', url, { as: [TENANT, 'EXPLOIT'] })).json()

    it('lists products with their dissemination infos, filtered by status and recipient label, page by page', async () => {
      const all = await get('/api/v1/products')
      expect(all.items.map((p: any) => p.urn)).toEqual(urns)
      expect(all.items[1]).toMatchObject({
        providerId: 'provider-2',
        disseminationStatus: 'PENDING',
        disseminationPending: true,
        disseminationsInfo: [{ label: 'mission-b', requestDate: expect.any(String), blocking: true }],
      })
      expect(all.items[1].disseminationsInfo[0].ackDate).toBeUndefined()
      expect(all.items[1].content).toBeUndefined()
      expect((await get('/api/v1/products?status=PENDING')).items.map((p: any) => p.urn)).toEqual([urns[1]])
      expect((await get('/api/v1/products?label=mission-b&status=DONE')).items.map((p: any) => p.urn)).toEqual([urns[2]])
      expect((await get('/api/v1/products?label=mission-b&status=NONE')).items.map((p: any) => p.urn)).toEqual([urns[0]])
      expect((await get('/api/v1/products?withContent=true&providerId=provider-1')).items[0].content).toMatchObject({ type: 'Feature', id: 'provider-1', urn: urns[0] })
      const page1 = await get('/api/v1/products?limit=2')
      expect(page1.items.map((p: any) => p.urn)).toEqual(urns.slice(0, 2))
      const page2 = await get(`/api/v1/products?limit=2&cursor=${page1.nextCursor}`)
      expect(page2.items.map((p: any) => p.urn)).toEqual([urns[2]])
      expect(page2.nextCursor).toBeUndefined()
      const bad = await f.call('GET', '/api/v1/products?cursor=eyJ4Ijox', { as: [TENANT, 'EXPLOIT'] })
      expect([bad.statusCode, bad.json().code]).toEqual([400, 'HERALD_ERR_BAD_CURSOR'])
    })

    it('shows one product by URN, in its tenant only', async () => {
      expect(await get(`/api/v1/products/${urns[2]}`)).toMatchObject({
        urn: urns[2],
        disseminationStatus: 'DONE',
        disseminationsInfo: [{ label: 'mission-b', ackDate: expect.any(String) }],
        content: { id: 'provider-3' },
      })
      expect((await f.call('GET', `/api/v1/products/${otherUrn}`)).statusCode).toBe(404)
      expect((await f.call('GET', '/api/v1/products/..%2F..%2Fetc%2Fpasswd')).statusCode).toBe(400)
    })

    it('lists catalog requests and counters', async () => {
      const errors = await get('/api/v1/catalog/requests?state=ERROR')
      // The REGARDS client's error text first, then the notifier's reasons.
      expect(errors.items).toMatchObject([{ requestId: failedRequest, state: 'ERROR', type: 'NOTIFICATION', urn: urns[1], errors: ['Notification error', DENIAL] }])
      // Live requests in the order they were registered.
      expect((await get('/api/v1/catalog/requests')).items.map((r: any) => r.requestId)).toEqual([failedRequest, blockedDeletion])
      expect((await get('/api/v1/catalog/requests?state=GRANTED')).items).toMatchObject([{ requestId: blockedDeletion, type: 'DELETION', step: 'WAITING_BLOCKING_DISSEMINATION' }])
      const succeeded = await get('/api/v1/catalog/requests?state=SUCCESS')
      expect(succeeded.items.filter((r: any) => r.type === 'CREATION').map((r: any) => r.urn)).toEqual(urns)
      expect(await get('/api/v1/catalog/counters')).toEqual({ 'ack.unknown-urn': 1 })
    })
  })
}
