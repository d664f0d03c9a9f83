import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getProduct } from '../src/catalog/queries/get-product.ts'
import { listRequests } from '../src/catalog/queries/list-requests.ts'
import { retryRequests } from '../src/catalog/retry-requests.ts'
import { setCatalogSetting } from '../src/catalog/settings.ts'
import { FEATURE_NOTIFICATION_QUEUE } from '../src/catalog/topology.ts'
import type { Herald } from '../src/main.ts'
import { CatalogClient, type Received } from './support/catalog-client.ts'
import { startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const UNKNOWN_URN = `URN:FEATURE:DATA:${TENANT}:87fdda0e-27d1-494f-a1c0-c57f2f0810f7:V1`

/**
 * The catalog alone (no notifier role): this test plays the notifier, reading what the catalog sends on the
 * notifier's exchanges and answering with NotifierEvents, as a REGARDS rs-notifier would.
 */
for (const backend of BACKENDS) {
  describe(`${backend}: notification requests (seed 002) against the catalog`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald
    let client: CatalogClient
    const dlq: Received[] = []

    const createFeature = async (properties: Record<string, unknown> = {}) => {
      const requestId = randomUUID()
      await client.create(TENANT, requestId, { type: 'Feature', id: `product-${randomUUID()}`, properties })
      await waitFor(() => client.responsesFor(requestId).some((r) => r.state === 'SUCCESS'), 'creation SUCCESS', { timeoutMs: 15_000, wakeOn: client.onMessage })
      return client.responsesFor(requestId).find((r) => r.state === 'SUCCESS')!.urn as string
    }
    const finalResponse = async (requestId: string) => {
      await waitFor(() => client.responsesFor(requestId).some((r) => r.state !== 'GRANTED'), `answer to ${requestId}`, { timeoutMs: 15_000, wakeOn: client.onMessage })
      return client.responsesFor(requestId)
    }
    const sent = async (requestId: string) => {
      await waitFor(() => client.sentFor(requestId).length > 0, `notification ${requestId}`, { timeoutMs: 15_000, wakeOn: client.onMessage })
      return client.sentFor(requestId)[0]
    }

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['catalog'] })
      // Creations are not notified here: only explicit notification requests go to the "notifier".
      await setCatalogSetting(herald.ctx.db, TENANT, 'active_notifications', false)
      client = new CatalogClient(vhost.url)
      await client.listenResponses()
      await client.listenToNotifierRequests()
      await client.collect(`${FEATURE_NOTIFICATION_QUEUE}.DLQ`, dlq)
    })

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('answers GRANTED and sends the feature to the notifier as a NotificationRequestEvent', async () => {
      const urn = await createFeature({ kind: 'L2' })
      const requestId = randomUUID()
      await client.notify(TENANT, requestId, { urn, priority: 'NORMAL' }, { owner: 'owner-1' })
      const message = await sent(requestId)
      expect(client.responsesFor(requestId)).toEqual([{ type: 'NOTIFICATION', requestId, requestOwner: 'owner-1', urn, state: 'GRANTED' }])
      expect(message.raw.exchange).toBe('regards.broadcast.fr.cnes.regards.framework.amqp.event.notifier.NotificationRequestEvent')
      expect(message.headers).toMatchObject({
        'regards.tenant': TENANT,
        'regards.request.id': requestId,
        'regards.request.owner': 'owner-1',
        'regards.type': 'fr.cnes.regards.framework.amqp.event.notifier.NotificationRequestEvent',
      })
      expect(String(message.headers['regards.request.date'])).toMatch(/Z$/)
      expect(message.raw.appId).toBe('REGARDS')
      expect(message.raw.priority).toBe(1)
      expect(message.body.metadata).toEqual({ action: 'NOTIFIED', sessionOwner: 'owner', session: 'session-1' })
      expect(message.body.payload).toMatchObject({ type: 'Feature', urn, entityType: 'DATA', properties: { kind: 'L2' } })
      expect(message.body.recipients).toBeUndefined()
      // The response: REGARDS headers and properties, no regards.request.* headers (not a request event).
      const granted = client.responses.find((r) => r.body.requestId === requestId)!
      expect(granted.raw.exchange).toBe('regards.broadcast.fr.cnes.regards.modules.feature.dto.event.out.FeatureRequestEvent')
      expect(granted.headers).toMatchObject({ 'regards.tenant': TENANT, 'regards.type': 'fr.cnes.regards.modules.feature.dto.event.out.FeatureRequestEvent', 'regards.converter': 'GSON' })
      expect(Object.keys(granted.headers).filter((h) => h.startsWith('regards.request.'))).toEqual([])
      expect([granted.raw.appId, granted.raw.priority, granted.raw.contentType, granted.raw.contentEncoding]).toEqual(['REGARDS', 1, 'application/json', 'UTF-8'])
      expect(Object.keys(granted.body)).toEqual(['type', 'requestId', 'requestOwner', 'urn', 'state'])
    })

    it('records one dissemination info per labelled recipient on the notifier SUCCESS, and answers SUCCESS', async () => {
      const urn = await createFeature()
      const requestId = randomUUID()
      await client.notify(TENANT, requestId, { urn, priority: 'HIGH' })
      const message = await sent(requestId)
      const notificationDate = String(message.headers['regards.request.date'])
      await client.notifierEvent(TENANT, {
        requestId,
        state: 'SUCCESS',
        notificationDate,
        recipients: [
          { label: 'mission-a', status: 'SUCCESS', ackRequired: true, blockingRequired: true },
          { label: 'mission-b', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
        ],
      })
      expect((await finalResponse(requestId)).at(-1)).toEqual({ type: 'NOTIFICATION', requestId, requestOwner: 'client', urn, state: 'SUCCESS' })
      const product = (await getProduct(herald.ctx.db, TENANT, urn))!
      expect(product.disseminationStatus).toBe('PENDING')
      expect(product.disseminationPending).toBe(true)
      expect(product.disseminationsInfo).toEqual([
        { label: 'mission-a', requestDate: notificationDate, blocking: true },
        { label: 'mission-b', requestDate: notificationDate, ackDate: notificationDate, blocking: false },
      ])
      // The request left the live table for the history: its id can be used again.
      expect((await listRequests(herald.ctx.db, TENANT, { requestId })).items).toEqual([])
      expect((await listRequests(herald.ctx.db, TENANT, { requestId, state: 'SUCCESS' })).items[0]).toMatchObject({ requestId, type: 'NOTIFICATION', state: 'SUCCESS', priority: 'HIGH' })
    })

    it('answers ERROR on the notifier DENIED or ERROR, records nothing, and sends again on retry', async () => {
      const urn = await createFeature()
      const [denied, failed] = [randomUUID(), randomUUID()]
      await client.notify(TENANT, denied, { urn, priority: 'NORMAL' })
      await client.notify(TENANT, failed, { urn, priority: 'NORMAL' })
      await sent(denied)
      await sent(failed)
      await client.notifierEvent(TENANT, { requestId: denied, state: 'DENIED' })
      await client.notifierEvent(TENANT, { requestId: failed, state: 'ERROR', recipients: [{ label: 'mission-a', status: 'SUCCESS', ackRequired: true, blockingRequired: false }, { label: 'mission-c', status: 'ERROR', ackRequired: false, blockingRequired: false }] })
      for (const requestId of [denied, failed]) {
        expect((await finalResponse(requestId)).at(-1)).toMatchObject({ type: 'NOTIFICATION', requestId, urn, state: 'ERROR', errors: ['Notification error'] })
      }
      expect((await getProduct(herald.ctx.db, TENANT, urn))!).toMatchObject({ disseminationStatus: 'NONE', disseminationsInfo: [] })
      const inError = await listRequests(herald.ctx.db, TENANT, { state: 'ERROR', urn })
      expect(inError.items.map((r) => [r.requestId, r.step]).sort()).toEqual([[denied, 'REMOTE_NOTIFICATION_ERROR'], [failed, 'REMOTE_NOTIFICATION_ERROR']].sort())
      expect((await retryRequests(herald.ctx.db, TENANT, { requestIds: [failed] })).retried).toEqual([failed])
      await waitFor(() => client.sentFor(failed).length === 2, 'the retry sent again', { timeoutMs: 15_000, wakeOn: client.onMessage })
    })

    it('ignores GRANTED/SCHEDULED events and NotifierEvents for requests it did not send', async () => {
      const urn = await createFeature()
      const requestId = randomUUID()
      await client.notify(TENANT, requestId, { urn, priority: 'LOW' })
      await sent(requestId)
      await client.notifierEvent(TENANT, { requestId, state: 'GRANTED' })
      await client.notifierEvent(TENANT, { requestId, state: 'SCHEDULED' })
      await client.notifierEvent(TENANT, { requestId: randomUUID(), state: 'SUCCESS', recipients: [{ label: 'x', status: 'SUCCESS', ackRequired: true, blockingRequired: false }] })
      await client.notifierEvent('another-tenant', { requestId, state: 'SUCCESS' })
      await new Promise((r) => setTimeout(r, 500))
      expect(client.responsesFor(requestId).map((r) => r.state)).toEqual(['GRANTED'])
      expect((await listRequests(herald.ctx.db, TENANT, { requestId })).items[0]).toMatchObject({ state: 'GRANTED', step: 'REMOTE_NOTIFICATION_REQUESTED' })
    })

    it('sends a direct notification (recipients) as a SpecificRecipientNotificationRequestEvent', async () => {
      const urn = await createFeature()
      const requestId = randomUUID()
      await client.notify(TENANT, requestId, { urn, priority: 'NORMAL', recipients: ['MISSION-1', 'MISSION-2', 'MISSION-1'] })
      const message = await sent(requestId)
      expect(message.raw.exchange).toBe('regards.broadcast.fr.cnes.regards.modules.notifier.dto.in.SpecificRecipientNotificationRequestEvent')
      expect(message.headers['regards.type']).toBe('fr.cnes.regards.modules.notifier.dto.in.SpecificRecipientNotificationRequestEvent')
      expect(message.body.recipients).toEqual(['MISSION-1', 'MISSION-2'])
      expect(Object.keys(message.body)).toEqual(['payload', 'metadata', 'recipients'])
    })

    it('answers DENIED, with the reason, to every invalid request, and sends none of them', async () => {
      const urn = await createFeature()
      const duplicate = randomUUID()
      await client.notify(TENANT, duplicate, { urn, priority: 'NORMAL' })
      await sent(duplicate)
      const cases: [string, () => Promise<void>, RegExp, boolean][] = []
      const add = (requestId: string, publish: () => Promise<void>, error: RegExp, hasUrn = false) => cases.push([requestId, publish, error, hasUrn])
      const id = () => randomUUID()
      let r: string
      r = id(); add(r, () => client.notify(TENANT, r, { urn, priority: 'NORMAL' }, { owner: null }), /^\[missing\.request\.owner\.header\] Missing request owner header$/)
      add(duplicate, () => client.notify(TENANT, duplicate, { urn, priority: 'NORMAL' }), /^\[request\.requestId\.exists\.error\.message\] Request id already exists at requestId: rejected value \[null\]\.$/, true)
      const r1 = id(); add(r1, () => client.notify(TENANT, r1, { urn: UNKNOWN_URN, priority: 'NORMAL' }), /^\[request\.urn\.feature\.does\.not\.exists\] Feature to notify does not exists at urn: rejected value \[null\]\.$/, true)
      const r2 = id(); add(r2, () => client.notify(TENANT, r2, { urn: 'URN:FEATURE:DATA:bad', priority: 'NORMAL' }), /invalid urn/)
      const r3 = id(); add(r3, () => client.notify(TENANT, r3, { urn: UNKNOWN_URN.replace('FEATURE', 'AIP'), priority: 'NORMAL' }), /not a feature URN/)
      const r4 = id(); add(r4, () => client.notify(TENANT, r4, { urn, priority: 'URGENT' }), /priority "URGENT" is not one of HIGH, NORMAL, LOW/, true)
      const r5 = id(); add(r5, () => client.notify(TENANT, r5, { urn }), /priority is mandatory/, true)
      const r6 = id(); add(r6, () => client.notify(TENANT, r6, { priority: 'HIGH' }), /urn is mandatory/)
      const r7 = id(); add(r7, () => client.publish('regards.broadcast.fr.cnes.regards.modules.feature.dto.event.in.FeatureNotificationRequestEvent', { tenant: TENANT, requestId: r7, owner: 'o', rawBody: Buffer.from('{"urn": ') }), /body is not JSON/)
      const r8 = id(); add(r8, () => client.notify(TENANT, r8, { urn, priority: 'NORMAL' }, { date: 'tomorrow' }), /regards\.request\.date "tomorrow" is not an ISO-8601 date-time/)
      const r9 = id(); add(r9, () => client.notify(TENANT, r9, { urn, priority: 'NORMAL', recipients: [42] }), /recipients must be a list/, true)
      for (const [, publish] of cases) await publish()
      for (const [requestId, , error, hasUrn] of cases) {
        await waitFor(() => client.responsesFor(requestId).some((e) => e.state === 'DENIED'), `DENIED ${requestId}`, { timeoutMs: 15_000, wakeOn: client.onMessage })
        const deniedEvent = client.responsesFor(requestId).find((e) => e.state === 'DENIED')
        expect(deniedEvent.type).toBe('NOTIFICATION')
        expect(deniedEvent.id).toBeUndefined()
        expect(deniedEvent.errors.some((e: string) => error.test(e)), `${JSON.stringify(deniedEvent.errors)} ~ ${error}`).toBe(true)
        expect(deniedEvent.urn !== undefined, requestId).toBe(hasUrn)
      }
      // A missing request id is answered without one (REGARDS does the same).
      await client.notify(TENANT, undefined, { urn, priority: 'NORMAL' })
      await waitFor(() => client.responses.some((e) => e.body.requestId === undefined && e.body.errors?.includes('[missing.request.id.header] Missing request id header')), 'DENIED without id', { timeoutMs: 15_000, wakeOn: client.onMessage })
      // An id longer than 36 characters is named as the problem.
      const longId = 'x'.repeat(40)
      await client.notify(TENANT, longId, { urn, priority: 'NORMAL' })
      await waitFor(() => client.responsesFor(longId.slice(0, 36)).some((e) => e.errors?.[0]?.includes('40 characters long, at most 36')), 'DENIED long id', { timeoutMs: 15_000, wakeOn: client.onMessage })
      // Two requests with one id in the same batch: the second is DENIED.
      const twice = id()
      await Promise.all([client.notify(TENANT, twice, { urn, priority: 'NORMAL' }), client.notify(TENANT, twice, { urn, priority: 'NORMAL' })])
      await waitFor(() => client.responsesFor(twice).length >= 2, 'both answers', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(client.responsesFor(twice).map((e) => e.state).sort()).toEqual(['DENIED', 'GRANTED'])
      // No tenant: nobody to answer; dead-lettered for operators.
      const noTenant = id()
      await client.notify(undefined as unknown as string, noTenant, { urn, priority: 'NORMAL' })
      await waitFor(() => dlq.some((m) => m.headers['regards.request.id'] === noTenant), 'dead-lettered', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(dlq.find((m) => m.headers['regards.request.id'] === noTenant)!.headers['x-exception-message']).toMatch(/regards\.tenant/)
      await new Promise((r) => setTimeout(r, 300))
      for (const [requestId] of cases.filter(([rid]) => rid !== duplicate)) expect(client.sentFor(requestId)).toEqual([])
    })

    it('does not send a request dated in the future before its date', async () => {
      const urn = await createFeature()
      const requestId = randomUUID()
      const date = new Date(Date.now() + 2500)
      await client.notify(TENANT, requestId, { urn, priority: 'NORMAL' }, { date: date.toISOString() })
      await waitFor(() => client.responsesFor(requestId).length > 0, 'GRANTED', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(client.responsesFor(requestId)[0].state).toBe('GRANTED')
      const message = await sent(requestId)
      expect(message.at).toBeGreaterThanOrEqual(date.getTime())
      // Event-driven: sent within moments of its date, not at the next scheduler cycle.
      expect(message.at - date.getTime()).toBeLessThan(1500)
    })

    it('sends a backlog that falls due at once HIGH before NORMAL before LOW, then in arrival order', async () => {
      const urn = await createFeature()
      // 10 s of margin: on a loaded 2-core machine, 90 requests and their GRANTED answers took over 4 s.
      const date = new Date(Date.now() + 10_000).toISOString()
      const priorities = ['LOW', 'NORMAL', 'HIGH'] as const
      const requests = Array.from({ length: 90 }, (_, i) => ({ requestId: `prio-${backend}-${String(i).padStart(3, '0')}-${randomUUID().slice(0, 8)}`, priority: priorities[(i * 7) % 3] }))
      for (const r of requests) await client.notify(TENANT, r.requestId, { urn, priority: r.priority }, { date })
      await waitFor(() => requests.every((r) => client.responsesFor(r.requestId).length > 0), 'all GRANTED', { timeoutMs: 20_000, wakeOn: client.onMessage })
      // The backlog is complete before its date, so the worker finds all of it due at once.
      expect(Date.now()).toBeLessThan(Date.parse(date))
      await waitFor(() => requests.every((r) => client.sentFor(r.requestId).length > 0), 'all sent', { timeoutMs: 20_000, wakeOn: client.onMessage })
      const order = client.toNotifier.filter((m) => String(m.headers['regards.request.id']).startsWith(`prio-${backend}-`)).map((m) => String(m.headers['regards.request.id']))
      const rank = { HIGH: 0, NORMAL: 1, LOW: 2 }
      const expected = [...requests].sort((a, b) => rank[a.priority] - rank[b.priority] || a.requestId.localeCompare(b.requestId)).map((r) => r.requestId)
      expect(order).toEqual(expected)
    })
  })
}

describe('a catalog serving some tenants only (HERALD_TENANTS)', () => {
  it('acks a request for another tenant without any answer, and answers its own tenants', async () => {
    const vhost = await createVhost()
    const storage = await createTestStorage(BACKENDS[0])
    const herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['catalog'], env: { HERALD_TENANTS: TENANT } })
    const client = new CatalogClient(vhost.url)
    try {
      await client.listenResponses()
      const dlq: Received[] = []
      await client.collect(`${FEATURE_NOTIFICATION_QUEUE}.DLQ`, dlq)
      const [foreign, own] = [randomUUID(), randomUUID()]
      await client.notify('someone-else', foreign, { urn: UNKNOWN_URN, priority: 'NORMAL' })
      await client.notify(TENANT, own, { urn: UNKNOWN_URN, priority: 'NORMAL' })
      await waitFor(() => client.responsesFor(own).length > 0, 'own tenant answered', { timeoutMs: 15_000, wakeOn: client.onMessage })
      await new Promise((r) => setTimeout(r, 300))
      expect(client.responsesFor(own)[0].state).toBe('DENIED')
      expect(client.responsesFor(foreign)).toEqual([])
      expect(dlq).toEqual([])
      const { rows } = await herald.ctx.db.selectFrom('catalog_request').select('request_id').execute().then((r) => ({ rows: r }))
      expect(rows).toEqual([])
    } finally {
      await client.close()
      await herald.stop()
      await storage.drop()
      await vhost.drop()
    }
  })
})
