import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAips } from '../src/catalog/create-aips.ts'
import { catalogCounters } from '../src/catalog/queries/counters.ts'
import { getProduct } from '../src/catalog/queries/get-product.ts'
import { requestDissemination } from '../src/catalog/request-dissemination.ts'
import { FEATURE_ACK_EXCHANGE, FEATURE_ACK_QUEUE, INGEST_ACK_QUEUE } from '../src/catalog/topology.ts'
import { featureUrn } from '../src/catalog/urn.ts'
import type { Herald } from '../src/main.ts'
import { CatalogClient, type Received } from './support/catalog-client.ts'
import { startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

/** Acknowledgements on the feature and ingest exchanges; the test plays the notifier (catalog role only). */
for (const backend of BACKENDS) {
  describe(`${backend}: dissemination acknowledgements`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald
    let client: CatalogClient
    const featureDlq: Received[] = []
    const ingestDlq: Received[] = []

    const product = (urn: string) => getProduct(herald.ctx.db, TENANT, urn)
    const waitProduct = (urn: string, check: (p: Awaited<ReturnType<typeof product>>) => boolean, what: string) =>
      waitFor(async () => check(await product(urn)), what, { timeoutMs: 10_000, wakeOn: client.onMessage })

    /** A feature disseminated to `recipients` (the test answers the notification as the notifier). */
    const disseminated = async (recipients: { label: string; ackRequired: boolean; blockingRequired?: boolean }[]) => {
      const requestId = randomUUID()
      await client.create(TENANT, requestId, { id: `product-${randomUUID()}` })
      await waitFor(() => client.sentFor(requestId).length > 0, 'creation notified', { timeoutMs: 10_000, wakeOn: client.onMessage })
      const message = client.sentFor(requestId)[0]
      const urn = message.body.payload.urn as string
      await client.notifierEvent(TENANT, {
        requestId,
        state: 'SUCCESS',
        notificationDate: String(message.headers['regards.request.date']),
        recipients: recipients.map((r) => ({ blockingRequired: false, ...r, status: 'SUCCESS' })),
      })
      await waitFor(() => client.responsesFor(requestId).some((r) => r.type === 'NOTIFICATION'), 'notification SUCCESS', { timeoutMs: 10_000, wakeOn: client.onMessage })
      return urn
    }

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['catalog'] })
      client = new CatalogClient(vhost.url)
      await client.listenResponses()
      await client.listenToNotifierRequests()
      await client.collect(`${FEATURE_ACK_QUEUE}.DLQ`, featureDlq)
      // rs-ingest's DisseminationAckHandler dead-letters to the global regards.DLQ, as in REGARDS.
      await client.collect('regards.DLQ', ingestDlq)
    })

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('sets the ack date and recomputes the status (PENDING → DONE) on a feature ack', async () => {
      const urn = await disseminated([{ label: 'mission-a', ackRequired: true }, { label: 'mission-b', ackRequired: true }])
      expect(await product(urn)).toMatchObject({ disseminationStatus: 'PENDING', disseminationPending: true })
      const before = Date.now()
      await client.ack(TENANT, urn, 'mission-a')
      await waitProduct(urn, (p) => p!.disseminationsInfo.some((i) => i.label === 'mission-a' && i.ackDate), 'first ack')
      const infos = (await product(urn))!.disseminationsInfo
      expect(Date.parse(infos[0].ackDate!)).toBeGreaterThanOrEqual(before - 5)
      expect((await product(urn))!.disseminationStatus).toBe('PENDING')
      // An ack without the (undocumented) type header is accepted too.
      await client.ack(TENANT, urn, 'mission-b', { typeHeader: false })
      await waitProduct(urn, (p) => p!.disseminationStatus === 'DONE', 'DONE')
      expect((await product(urn))!.disseminationPending).toBe(false)
    })

    it('handles unknown URNs, unknown labels and duplicate acks as defined, logs and counts them, never failing', async () => {
      const urn = await disseminated([{ label: 'mission-a', ackRequired: true }])
      const countersBefore = await catalogCounters(herald.ctx.db, TENANT)
      await client.ack(TENANT, featureUrn(TENANT, `nobody-${randomUUID()}`, 1), 'mission-a')
      await client.ack(TENANT, urn, 'mission-a')
      await waitProduct(urn, (p) => p!.disseminationStatus === 'DONE', 'acknowledged')
      const first = (await product(urn))!.disseminationsInfo[0]
      await new Promise((r) => setTimeout(r, 20))
      await client.ack(TENANT, urn, 'mission-a')
      await client.ack(TENANT, urn, 'never-notified')
      await waitProduct(urn, (p) => p!.disseminationsInfo.length === 2, 'unknown label recorded')
      const after = (await product(urn))!
      expect(after.disseminationStatus).toBe('DONE')
      const unknownLabel = after.disseminationsInfo.find((i) => i.label === 'never-notified')!
      expect(unknownLabel.ackDate).toBe(unknownLabel.requestDate)
      expect(unknownLabel.blocking).toBe(false)
      // The duplicate moved both dates forward (REGARDS): still acknowledged.
      const duplicate = after.disseminationsInfo.find((i) => i.label === 'mission-a')!
      expect(Date.parse(duplicate.ackDate!)).toBeGreaterThan(Date.parse(first.ackDate!))
      expect(duplicate.requestDate).toBe(duplicate.ackDate)
      const counters = await catalogCounters(herald.ctx.db, TENANT)
      const delta = (name: string) => (counters[name] ?? 0) - (countersBefore[name] ?? 0)
      expect([delta('ack.unknown-urn'), delta('ack.duplicate'), delta('ack.unknown-label')]).toEqual([1, 1, 1])
    })

    it('keeps an ack that arrives before the notification SUCCESS', async () => {
      const requestId = randomUUID()
      await client.create(TENANT, requestId, { id: `early-${randomUUID()}` })
      await waitFor(() => client.sentFor(requestId).length > 0, 'notified', { timeoutMs: 10_000, wakeOn: client.onMessage })
      const message = client.sentFor(requestId)[0]
      const urn = message.body.payload.urn as string
      await client.ack(TENANT, urn, 'fast-recipient')
      await waitProduct(urn, (p) => p!.disseminationStatus === 'DONE', 'early ack recorded')
      await client.notifierEvent(TENANT, {
        requestId,
        state: 'SUCCESS',
        notificationDate: String(message.headers['regards.request.date']),
        recipients: [{ label: 'fast-recipient', status: 'SUCCESS', ackRequired: true, blockingRequired: true }],
      })
      await waitFor(() => client.responsesFor(requestId).some((r) => r.type === 'NOTIFICATION'), 'SUCCESS', { timeoutMs: 10_000, wakeOn: client.onMessage })
      const p = (await product(urn))!
      expect(p.disseminationStatus).toBe('DONE')
      expect(p.disseminationsInfo).toHaveLength(1)
      expect(p.disseminationsInfo[0].ackDate).toBeDefined()
      expect((await catalogCounters(herald.ctx.db, TENANT))['dissemination.already-acknowledged']).toBeGreaterThanOrEqual(1)
    })

    it('dead-letters each malformed ack alone; the valid acks of the same burst are applied', async () => {
      const urn1 = await disseminated([{ label: 'm', ackRequired: true }])
      const urn2 = await disseminated([{ label: 'm', ackRequired: true }])
      const marker = randomUUID()
      const malformed: [string, () => Promise<void>, RegExp][] = [
        ['json', () => client.ack(TENANT, urn1, 'm', { rawBody: Buffer.from(`{"urn": "${marker}`) }), /not JSON/],
        ['no-urn', () => client.ack(TENANT, undefined, `m-${marker}`), /urn is mandatory/],
        ['bad-urn', () => client.ack(TENANT, `URN:FEATURE:${marker}`, 'm'), /invalid urn/],
        ['no-label', () => client.ack(TENANT, urn1.replace(/:V1$/, ':V2'), null), /recipientLabel is mandatory/],
        ['wrong-type', () => client.publish(FEATURE_ACK_EXCHANGE, { tenant: TENANT, headers: { 'regards.type': 'some.OtherEvent', marker }, body: { urn: urn1, recipientLabel: 'm' } }), /message type some\.OtherEvent/],
        ['no-tenant', () => client.publish(FEATURE_ACK_EXCHANGE, { headers: { marker }, body: { urn: urn1, recipientLabel: 'm' } }), /regards\.tenant/],
      ]
      const dlqBefore = featureDlq.length
      await Promise.all([client.ack(TENANT, urn1, 'm'), ...malformed.map(([, publish]) => publish()), client.ack(TENANT, urn2, 'm')])
      await waitProduct(urn1, (p) => p!.disseminationStatus === 'DONE', 'urn1 acknowledged')
      await waitProduct(urn2, (p) => p!.disseminationStatus === 'DONE', 'urn2 acknowledged')
      await waitFor(() => featureDlq.length - dlqBefore === malformed.length, 'all malformed dead-lettered', { timeoutMs: 10_000, wakeOn: client.onMessage })
      const reasons = featureDlq.slice(dlqBefore).map((m) => String(m.headers['x-exception-message']))
      for (const [name, , reason] of malformed) expect(reasons.some((r) => reason.test(r)), `${name}: ${reasons.join(' | ')}`).toBe(true)
      for (const m of featureDlq.slice(dlqBefore)) expect(m.headers['x-death-queue']).toBe(FEATURE_ACK_QUEUE)
    })

    it('acknowledges an AIP disseminated through the ingest path on the ingest exchange', async () => {
      const originUrn = featureUrn('origin', `o-${randomUUID()}`, 1)
      const { results } = await createAips(herald.ctx.db, TENANT, [{ providerId: `aip-${randomUUID()}`, originUrn, session: 's', sessionOwner: 'so' }])
      const aip = results[0].urn!
      expect(aip).toMatch(/^URN:AIP:DATA:project1:/)
      const { results: requested } = await requestDissemination(herald.ctx.db, TENANT, { urns: [aip], recipients: ['LTA-1'], owner: 'admin' })
      const requestId = requested[0].requestId!
      await waitFor(() => client.sentFor(requestId).length > 0, 'AIP dissemination sent', { timeoutMs: 10_000, wakeOn: client.onMessage })
      const message = client.sentFor(requestId)[0]
      expect(message.raw.exchange).toBe('regards.broadcast.fr.cnes.regards.modules.notifier.dto.in.SpecificRecipientNotificationRequestEvent')
      expect(message.body).toMatchObject({ payload: { aipId: aip, originUrn, disseminationStatus: 'NONE' }, metadata: { action: 'AIP_DISSEMINATION', session: 's', sessionOwner: 'so' }, recipients: ['LTA-1'] })
      await client.notifierEvent(TENANT, {
        requestId,
        state: 'SUCCESS',
        notificationDate: String(message.headers['regards.request.date']),
        recipients: [{ label: 'lta', status: 'SUCCESS', ackRequired: true, blockingRequired: false }],
      })
      await waitProduct(aip, (p) => p!.disseminationStatus === 'PENDING', 'AIP pending')
      // AIP disseminations get no FeatureRequestEvent.
      expect(client.responsesFor(requestId)).toEqual([])
      const dlqBefore = ingestDlq.length
      await client.ack(TENANT, aip, 'lta', { ingest: true })
      await client.ack(TENANT, 'not a urn', 'lta', { ingest: true })
      await waitProduct(aip, (p) => p!.disseminationStatus === 'DONE', 'AIP acknowledged')
      await waitFor(() => ingestDlq.length === dlqBefore + 1, 'malformed ingest ack dead-lettered', { timeoutMs: 10_000, wakeOn: client.onMessage })
      expect(ingestDlq.at(-1)!.headers['x-exception-message']).toMatch(/invalid urn/)
    })
  })
}
