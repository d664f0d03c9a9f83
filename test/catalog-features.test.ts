import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forceDeletions } from '../src/catalog/force-deletions.ts'
import { getProduct } from '../src/catalog/queries/get-product.ts'
import { listProducts } from '../src/catalog/queries/list-products.ts'
import { listRequests } from '../src/catalog/queries/list-requests.ts'
import { setCatalogSetting } from '../src/catalog/settings.ts'
import { featureUrn } from '../src/catalog/urn.ts'
import type { Herald } from '../src/main.ts'
import { CatalogClient } from './support/catalog-client.ts'
import { startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const QUIET = 'quiet-tenant'

/** GeoJSON products through the FEM AMQP requests; the test plays the notifier (catalog role only). */
for (const backend of BACKENDS) {
  describe(`${backend}: features created, patched and deleted through FEM requests`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald
    let client: CatalogClient

    const answered = async (requestId: string, state: string, type?: string) => {
      await waitFor(() => client.responsesFor(requestId).some((r) => r.state === state && (!type || r.type === type)), `${state} ${type ?? ''} for ${requestId}`, { timeoutMs: 15_000, wakeOn: client.onMessage })
      return client.responsesFor(requestId).find((r) => r.state === state && (!type || r.type === type))
    }
    const notified = async (requestId: string) => {
      await waitFor(() => client.sentFor(requestId).length > 0, `notification of ${requestId}`, { timeoutMs: 15_000, wakeOn: client.onMessage })
      return client.sentFor(requestId).at(-1)!
    }
    /** Answers the notification of a request as a notifier whose recipients are `recipients`. */
    const notifierSuccess = async (requestId: string, recipients: { label: string; ackRequired: boolean; blockingRequired: boolean }[]) => {
      const message = await notified(requestId)
      await client.notifierEvent(message.headers['regards.tenant'] as string, {
        requestId,
        state: 'SUCCESS',
        notificationDate: String(message.headers['regards.request.date']),
        recipients: recipients.map((r) => ({ ...r, status: 'SUCCESS' })),
      })
      return answered(requestId, 'SUCCESS', 'NOTIFICATION')
    }
    const create = async (tenant: string, feature: Record<string, unknown>, metadata?: Record<string, unknown>) => {
      const requestId = randomUUID()
      await client.create(tenant, requestId, feature, metadata)
      return { requestId, created: await answered(requestId, 'SUCCESS', 'CREATION') }
    }

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['catalog'] })
      await setCatalogSetting(herald.ctx.db, QUIET, 'active_notifications', false)
      client = new CatalogClient(vhost.url)
      await client.listenResponses()
      await client.listenToNotifierRequests()
    })

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('creates a feature with a URN derived from its provider id, answers GRANTED then SUCCESS, and notifies it as CREATED', async () => {
      const providerId = `product-${randomUUID()}`
      const feature = { type: 'Feature', id: providerId, model: 'GEODE', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { size: 3 } }
      const requestId = randomUUID()
      await client.create(TENANT, requestId, feature, { sessionOwner: 'acquisition', session: 'day-1', storages: [] })
      const urn = featureUrn(TENANT, providerId, 1)
      expect(await answered(requestId, 'SUCCESS', 'CREATION')).toEqual({ type: 'CREATION', requestId, requestOwner: 'client', id: providerId, urn, state: 'SUCCESS' })
      expect(client.responsesFor(requestId)[0]).toEqual({ type: 'CREATION', requestId, requestOwner: 'client', id: providerId, state: 'GRANTED' })
      const message = await notified(requestId)
      expect(message.body.metadata).toEqual({ action: 'CREATED', sessionOwner: 'acquisition', session: 'day-1' })
      expect(message.body.payload).toMatchObject({ type: 'Feature', id: providerId, urn, entityType: 'DATA', model: 'GEODE', last: true, history: { createdBy: 'client' }, geometry: feature.geometry, properties: { size: 3 } })
      expect(message.headers['regards.request.id']).toBe(requestId)
      // The notification's outcome comes back with type NOTIFICATION and the same request id.
      expect(await notifierSuccess(requestId, [])).toEqual({ type: 'NOTIFICATION', requestId, requestOwner: 'client', urn, state: 'SUCCESS' })
      expect(await getProduct(herald.ctx.db, TENANT, urn)).toMatchObject({ urn, providerId, version: 1, sessionOwner: 'acquisition', session: 'day-1', disseminationStatus: 'NONE' })
    })

    it('gives the same provider id the same UUID and the next version, and keeps a provided URN', async () => {
      const providerId = `versioned-${randomUUID()}`
      const v1 = await create(QUIET, { id: providerId, properties: {} })
      const v2 = await create(QUIET, { id: providerId, properties: {} })
      expect(v1.created.urn).toBe(featureUrn(QUIET, providerId, 1))
      expect(v2.created.urn).toBe(featureUrn(QUIET, providerId, 2))
      expect((await getProduct(herald.ctx.db, QUIET, v1.created.urn))!.last).toBe(false)
      expect((await getProduct(herald.ctx.db, QUIET, v2.created.urn))!.last).toBe(true)
      // REGARDS §6.4: a product created in B carries A's URN.
      const originUrn = featureUrn('origin-tenant', `origin-${randomUUID()}`, 3)
      const provided = await create(QUIET, { id: `copy-${randomUUID()}`, urn: originUrn, properties: {} })
      expect(provided.created.urn).toBe(originUrn)
      // Not twice.
      const again = randomUUID()
      await client.create(QUIET, again, { id: 'copy-2', urn: originUrn, properties: {} })
      expect((await answered(again, 'DENIED', 'CREATION')).errors).toEqual([`feature ${originUrn} already exists`])
    })

    it('with active_notifications off, answers SUCCESS and notifies nothing', async () => {
      const { requestId } = await create(QUIET, { id: `quiet-${randomUUID()}` })
      await new Promise((r) => setTimeout(r, 300))
      expect(client.sentFor(requestId)).toEqual([])
      expect((await listRequests(herald.ctx.db, QUIET, { requestId, state: 'SUCCESS' })).items).toHaveLength(1)
    })

    it('denies invalid creations with every reason', async () => {
      const requestId = randomUUID()
      await client.create(TENANT, requestId, { type: 'Feature', properties: 'x' }, { session: '' })
      expect((await answered(requestId, 'DENIED', 'CREATION')).errors).toEqual([
        'metadata.sessionOwner is mandatory',
        'metadata.session is mandatory',
        'feature.id (the provider id) is mandatory',
        'feature.properties must be a JSON object',
      ])
    })

    it('patches a feature (merge, null unsets), answers SUCCESS/PATCH and notifies the whole merged feature as UPDATED', async () => {
      const { requestId: createId, created } = await create(TENANT, { id: `patched-${randomUUID()}`, properties: { a: 1, b: 2, nested: { x: 1, y: 2 } } }, { sessionOwner: 'so', session: 's' })
      await notifierSuccess(createId, [])
      const requestId = randomUUID()
      await client.patch(TENANT, requestId, { urn: created.urn, properties: { b: null, c: 3, nested: { y: null, z: 3 } } })
      expect(await answered(requestId, 'SUCCESS', 'PATCH')).toMatchObject({ type: 'PATCH', requestId, urn: created.urn, state: 'SUCCESS' })
      const message = await notified(requestId)
      expect(message.body.metadata).toEqual({ action: 'UPDATED', sessionOwner: 'so', session: 's' })
      expect(message.body.payload.properties).toEqual({ a: 1, c: 3, nested: { x: 1, z: 3 } })
      expect(message.body.payload.urn).toBe(created.urn)
      const unknown = randomUUID()
      await client.patch(TENANT, unknown, { urn: featureUrn(TENANT, 'nobody', 1), properties: {} })
      expect((await answered(unknown, 'DENIED', 'PATCH')).errors[0]).toMatch(/does not exists/)
    })

    it('deletes a feature (SUCCESS/DELETION, then DELETED with the feature as it was), and answers an unknown URN as already deleted', async () => {
      const { requestId: createId, created } = await create(TENANT, { id: `deleted-${randomUUID()}`, properties: { p: 1 } })
      await notifierSuccess(createId, [])
      const requestId = randomUUID()
      await client.delete(TENANT, requestId, created.urn)
      expect(await answered(requestId, 'SUCCESS', 'DELETION')).toMatchObject({ type: 'DELETION', urn: created.urn, state: 'SUCCESS' })
      const message = await notified(requestId)
      expect(message.body.metadata).toMatchObject({ action: 'DELETED' })
      expect(message.body.payload.properties).toEqual({ p: 1 })
      expect(await getProduct(herald.ctx.db, TENANT, created.urn)).toBeUndefined()
      const gone = randomUUID()
      await client.delete(TENANT, gone, created.urn)
      expect((await answered(gone, 'SUCCESS', 'DELETION')).errors).toEqual(['Feature already deleted. Skipping silently!'])
      const placeholder = await notified(gone)
      expect(placeholder.body.metadata).toEqual({ action: 'ALREADY_DELETED' })
      expect(placeholder.body.payload).toMatchObject({ id: 'unknown', urn: created.urn, model: 'unknown' })
    })

    it('keeps a feature with a blocking unacknowledged dissemination until the ack arrives, then deletes it', async () => {
      const { requestId: createId, created } = await create(TENANT, { id: `blocked-${randomUUID()}` })
      await notifierSuccess(createId, [{ label: 'archive', ackRequired: true, blockingRequired: true }, { label: 'mirror', ackRequired: false, blockingRequired: false }])
      expect((await getProduct(herald.ctx.db, TENANT, created.urn))!.disseminationStatus).toBe('PENDING')
      const requestId = randomUUID()
      await client.delete(TENANT, requestId, created.urn)
      await waitFor(async () => (await listRequests(herald.ctx.db, TENANT, { requestId, step: 'WAITING_BLOCKING_DISSEMINATION' })).items.length === 1, 'blocked', { timeoutMs: 10_000, wakeOn: client.onMessage })
      await waitFor(() => client.responsesFor(requestId).length > 0, 'GRANTED', { timeoutMs: 10_000, wakeOn: client.onMessage })
      await new Promise((r) => setTimeout(r, 300))
      expect(client.responsesFor(requestId).map((r) => r.state)).toEqual(['GRANTED'])
      expect(await getProduct(herald.ctx.db, TENANT, created.urn)).toBeDefined()
      // The ack of a non-blocking label releases nothing.
      await client.ack(TENANT, created.urn, 'mirror')
      await new Promise((r) => setTimeout(r, 300))
      expect(client.responsesFor(requestId).map((r) => r.state)).toEqual(['GRANTED'])
      await client.ack(TENANT, created.urn, 'archive')
      expect(await answered(requestId, 'SUCCESS', 'DELETION')).toMatchObject({ urn: created.urn })
      expect(await getProduct(herald.ctx.db, TENANT, created.urn)).toBeUndefined()
    })

    it('lets an operator force a blocked deletion', async () => {
      const { requestId: createId, created } = await create(TENANT, { id: `forced-${randomUUID()}` })
      await notifierSuccess(createId, [{ label: 'archive', ackRequired: true, blockingRequired: true }])
      const requestId = randomUUID()
      await client.delete(TENANT, requestId, created.urn)
      await waitFor(async () => (await listRequests(herald.ctx.db, TENANT, { requestId, step: 'WAITING_BLOCKING_DISSEMINATION' })).items.length === 1, 'blocked', { timeoutMs: 10_000, wakeOn: client.onMessage })
      expect(await forceDeletions(herald.ctx.db, TENANT, { urns: [created.urn] })).toEqual({ forced: [requestId] })
      expect(await answered(requestId, 'SUCCESS', 'DELETION')).toMatchObject({ urn: created.urn })
      expect(await getProduct(herald.ctx.db, TENANT, created.urn)).toBeUndefined()
    })

    it('acknowledges a recipient through a patch (metadata.acknowledgedRecipient); updates are never blocked', async () => {
      const { requestId: createId, created } = await create(TENANT, { id: `acked-by-patch-${randomUUID()}` })
      await notifierSuccess(createId, [{ label: 'archive', ackRequired: true, blockingRequired: true }])
      const requestId = randomUUID()
      await client.patch(TENANT, requestId, { urn: created.urn, properties: { checked: true } }, { acknowledgedRecipient: 'archive' })
      await answered(requestId, 'SUCCESS', 'PATCH')
      const product = (await getProduct(herald.ctx.db, TENANT, created.urn))!
      expect(product.disseminationStatus).toBe('DONE')
      expect(product.disseminationsInfo[0].ackDate).toBeDefined()
      expect((await listProducts(herald.ctx.db, TENANT, { urn: created.urn, label: 'archive', status: 'DONE' })).items).toHaveLength(1)
    })
  })
}
