import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getProduct } from '../src/catalog/queries/get-product.ts'
import { listRequests } from '../src/catalog/queries/list-requests.ts'
import { clearShovel, setShovel, waitShovelRunning } from '../src/catalog/shovel.ts'
import { FEATURE_ACK_EXCHANGE, FEATURE_CREATION_EXCHANGE } from '../src/catalog/topology.ts'
import type { Herald } from '../src/main.ts'
import { CatalogClient, type Received } from './support/catalog-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { AMQP_BASE_URL, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT_A = 'project-a'
const TENANT_B = 'project-b'
/** B's DisseminationAckSender `senderLabel` = A's recipient label for B. */
const B_LABEL = 'regards-b'

/**
 * Seed 000, for real: two Herald instances (each its own database and its own vhost on one
 * RabbitMQ) joined by two RabbitMQ dynamic shovels.
 *
 *   A: catalog ─CREATED→ notifier ─RabbitMQSender (ackRequired, blocking, label regards-b)→ queue a.to-b
 *   shovel (on B): A's a.to-b → B's exchange b.incoming          (the "worker manager request" leg, steps 2–3)
 *   worker (this test): b.incoming → FeatureCreationRequestEvent on B carrying A's URN               (step 4)
 *   B: catalog ─CREATED→ notifier ─DisseminationAckSender (senderLabel regards-b)→ queue b.acks  (steps 5–6)
 *   shovel (on A): B's b.acks → A's DisseminationAckEvent exchange                                   (step 7)
 *   A: the dissemination to regards-b is acknowledged.
 */
describe('REGARDS to REGARDS with acknowledgement, two instances and two shovels', () => {
  const backend = 'postgres' as const
  let vhostA: Awaited<ReturnType<typeof createVhost>>
  let vhostB: Awaited<ReturnType<typeof createVhost>>
  let storageA: TestStorage
  let storageB: TestStorage
  let heraldA: Herald
  let heraldB: Herald
  let clientA: CatalogClient
  let clientB: CatalogClient
  const incomingOnB: Received[] = []
  const uri = (vhost: string) => `${AMQP_BASE_URL}/${encodeURIComponent(vhost)}`

  beforeAll(async () => {
    vhostA = await createVhost()
    vhostB = await createVhost()
    storageA = await createTestStorage(backend)
    storageB = await createTestStorage(backend)
    heraldA = await startTestHerald({ storage: storageA, amqpUrl: vhostA.url, roles: ['notifier', 'catalog'], env: { HERALD_INSTANCE_NAME: 'REGARDS-A' } })
    // B acknowledges products of A's tenant: its operator allows B's recipients to publish as project-a.
    heraldB = await startTestHerald({ storage: storageB, amqpUrl: vhostB.url, roles: ['notifier', 'catalog'], env: { HERALD_INSTANCE_NAME: 'REGARDS-B', HERALD_ALLOW_CROSS_TENANT_PUBLISH: `${TENANT_B}:${TENANT_A}` } })
    await importConfig(heraldA, TENANT_A, [
      pluginConf('RabbitMQSender', 'to-regards-b', { exchange: 'a.outgoing', queueName: 'a.to-b', recipientLabel: B_LABEL, ackRequired: true, blockingRequired: true }),
      pluginConf('LuceneRuleMatcher', 'created-in-a', { metadata_rule: 'action:CREATED' }),
      association('created-in-a', ['to-regards-b']),
    ])
    await importConfig(heraldB, TENANT_B, [
      pluginConf('DisseminationAckSender', 'ack-to-a', { senderLabel: B_LABEL, featureDisseminationExchange: 'b.acks.exchange', featureDisseminationQueueName: 'b.acks' }),
      pluginConf('LuceneRuleMatcher', 'created-in-b', { metadata_rule: 'action:CREATED' }),
      association('created-in-b', ['ack-to-a']),
    ])
    // The product leg, defined on B (docs: a shovel takes from a distant queue into a local exchange).
    clientB = new CatalogClient(vhostB.url)
    await clientB.rabbit.exchangeDeclare({ exchange: 'b.incoming', type: 'fanout', durable: true })
    await clientB.rabbit.queueDeclare({ queue: 'b.incoming.q', durable: true })
    await clientB.rabbit.queueBind({ queue: 'b.incoming.q', exchange: 'b.incoming', routingKey: '' })
    await setShovel({ name: 'products-from-a', vhost: vhostB.name, srcUri: uri(vhostA.name), srcQueue: 'a.to-b', destUri: uri(vhostB.name), destExchange: 'b.incoming' })
    // The acknowledgement leg, defined on A.
    await setShovel({ name: 'acks-from-b', vhost: vhostA.name, srcUri: uri(vhostB.name), srcQueue: 'b.acks', destUri: uri(vhostA.name), destExchange: FEATURE_ACK_EXCHANGE })
    await waitShovelRunning(vhostB.name, 'products-from-a')
    await waitShovelRunning(vhostA.name, 'acks-from-b')
    clientA = new CatalogClient(vhostA.url)
    await clientA.listenResponses()
    await clientB.listenResponses()
    await clientB.collect('b.incoming.q', incomingOnB)
  })

  afterAll(async () => {
    await clearShovel(vhostA?.name, 'acks-from-b').catch(() => {})
    await clearShovel(vhostB?.name, 'products-from-a').catch(() => {})
    await clientA?.close()
    await clientB?.close()
    await heraldA?.stop()
    await heraldB?.stop()
    await storageA?.drop()
    await storageB?.drop()
    await vhostA?.drop()
    await vhostB?.drop()
  })

  /** Step 4: B's "custom feature generator worker" turns A's product into a creation request on B, keeping A's URN. */
  const workerOnB = async (urn: string) => {
    await waitFor(() => incomingOnB.some((m) => m.body.payload?.urn === urn), 'product shovelled to B', { timeoutMs: 20_000, wakeOn: clientB.onMessage })
    const { payload } = incomingOnB.find((m) => m.body.payload?.urn === urn)!.body
    const requestId = randomUUID()
    await clientB.publish(FEATURE_CREATION_EXCHANGE, {
      tenant: TENANT_B,
      requestId,
      owner: 'worker-manager',
      body: { metadata: { sessionOwner: 'from-regards-a', session: 'copies' }, feature: { ...payload, history: undefined, last: undefined } },
    })
    return requestId
  }

  const createOnA = async (providerId: string) => {
    const requestId = randomUUID()
    await clientA.create(TENANT_A, requestId, { type: 'Feature', id: providerId, properties: { mission: 'A' } })
    await waitFor(() => clientA.responsesFor(requestId).some((r) => r.type === 'NOTIFICATION'), 'A notified', { timeoutMs: 20_000, wakeOn: clientA.onMessage })
    expect(clientA.responsesFor(requestId).at(-1)).toMatchObject({ type: 'NOTIFICATION', state: 'SUCCESS' })
    return clientA.responsesFor(requestId).find((r) => r.type === 'CREATION' && r.state === 'SUCCESS').urn as string
  }

  it('A shows the product pending until B, through its DisseminationAckSender and the shovel, acknowledges it', async () => {
    const urn = await createOnA(`a-product-${randomUUID()}`)
    expect(urn).toMatch(/^URN:FEATURE:DATA:project-a:/)
    const pending = (await getProduct(heraldA.ctx.db, TENANT_A, urn))!
    expect(pending).toMatchObject({ disseminationStatus: 'PENDING', disseminationPending: true })
    expect(pending.disseminationsInfo).toEqual([{ label: B_LABEL, requestDate: expect.any(String), blocking: true }])

    const requestOnB = await workerOnB(urn)
    await waitFor(() => clientB.responsesFor(requestOnB).some((r) => r.type === 'NOTIFICATION'), 'B notified', { timeoutMs: 20_000, wakeOn: clientB.onMessage })
    // B created the product with A's URN (the tenant segment is A's).
    expect(clientB.responsesFor(requestOnB).find((r) => r.type === 'CREATION' && r.state === 'SUCCESS').urn).toBe(urn)
    expect(await getProduct(heraldB.ctx.db, TENANT_B, urn)).toBeDefined()

    await waitFor(async () => (await getProduct(heraldA.ctx.db, TENANT_A, urn))!.disseminationStatus === 'DONE', 'A acknowledged', { timeoutMs: 20_000, wakeOn: clientA.onMessage })
    const acked = (await getProduct(heraldA.ctx.db, TENANT_A, urn))!
    expect(acked.disseminationPending).toBe(false)
    expect(acked.disseminationsInfo[0]).toMatchObject({ label: B_LABEL, blocking: true, ackDate: expect.any(String) })
    expect(Date.parse(acked.disseminationsInfo[0].ackDate!)).toBeGreaterThanOrEqual(Date.parse(acked.disseminationsInfo[0].requestDate))
  })

  it('a deletion in A waits for B’s acknowledgement of a blocking dissemination, then completes', async () => {
    const urn = await createOnA(`a-blocking-${randomUUID()}`)
    const deletion = randomUUID()
    await clientA.delete(TENANT_A, deletion, urn)
    await waitFor(async () => (await listRequests(heraldA.ctx.db, TENANT_A, { requestId: deletion, step: 'WAITING_BLOCKING_DISSEMINATION' })).items.length === 1, 'deletion blocked', { timeoutMs: 10_000, wakeOn: clientA.onMessage })
    await waitFor(() => clientA.responsesFor(deletion).length > 0, 'GRANTED', { timeoutMs: 10_000, wakeOn: clientA.onMessage })
    await new Promise((r) => setTimeout(r, 300))
    expect(clientA.responsesFor(deletion).map((r) => r.state)).toEqual(['GRANTED'])
    expect(await getProduct(heraldA.ctx.db, TENANT_A, urn)).toBeDefined()
    await workerOnB(urn)
    await waitFor(() => clientA.responsesFor(deletion).some((r) => r.state === 'SUCCESS' && r.type === 'DELETION'), 'deletion completed after the ack', { timeoutMs: 20_000, wakeOn: clientA.onMessage })
    expect(await getProduct(heraldA.ctx.db, TENANT_A, urn)).toBeUndefined()
  })
})
