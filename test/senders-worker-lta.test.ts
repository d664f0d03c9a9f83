import { randomUUID } from 'node:crypto'
import { Connection, type AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import { ltaRequestSender, productFiles } from '../src/senders/lta-request-sender.ts'
import type { DeliveryItem, Parameters, SenderContext } from '../src/senders/sender.ts'
import { computeSessionNameAndOwner, readJsonPath } from '../src/senders/session-name.ts'
import { workerManagerSender } from '../src/senders/worker-manager-sender.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { collectQueue as collect, deliveryItem, openSenderBroker, type SenderBroker } from './support/sender-rig.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const WM_EXCHANGE = 'regards.broadcast.fr.cnes.regards.modules.workermanager.dto.events.in.RequestEvent'
const today = () => new Date().toISOString().slice(0, 10)
const body = (m: AsyncMessage) => JSON.parse((m.body as Buffer).toString('utf8'))
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const file = (name: string, dataType: string, url = `file:///data/${name}`) => ({
  locations: [{ storage: 'disk', url }, { storage: 'copy', url: `s3://copy/${name}` }],
  attributes: { dataType, mimeType: 'application/octet-stream', filename: name, filesize: 10, algorithm: 'MD5', checksum: `md5-${name}` },
})
const feature = (over: Record<string, unknown> = {}) => ({
  type: 'Feature',
  id: `product-${randomUUID().slice(0, 8)}`,
  urn: `URN:FEATURE:DATA:${TENANT}:${randomUUID()}:V1`,
  geometry: { type: 'Point', coordinates: [10, 20] },
  properties: { data: { type: 'L2_RAD' }, count: 3 },
  files: [file('a.nc', 'RAWDATA'), file('a.png', 'QUICKLOOK_SD')],
  ...over,
})

const item = (payload: Record<string, unknown>, metadata: Record<string, unknown> = { action: 'CREATED', sessionOwner: 'fem-owner', session: 'fem-session' }): DeliveryItem =>
  deliveryItem({ tenant: TENANT, payload, metadata })

describe('session name and owner', () => {
  const now = new Date('2026-11-22T23:30:00Z')
  const req = { payload: { properties: { data: { type: 'L2_RAD' }, list: ['first'], n: 4, obj: {} } }, metadata: { sessionOwner: 'owner', session: 'session-1' } }

  it('comes from the request metadata without a pattern', () => {
    expect(computeSessionNameAndOwner(req, undefined, TENANT, now)).toEqual({ sessionOwner: 'owner', session: 'session-1' })
    expect(computeSessionNameAndOwner({ payload: {}, metadata: {} }, undefined, TENANT, now)).toEqual({ sessionOwner: undefined, session: undefined })
  })

  it('follows {jsonPath}-#day(.*) with a REGARDS-<tenant> owner', () => {
    expect(computeSessionNameAndOwner(req, '{properties.data.type}-#day-foo', TENANT, now)).toEqual({ sessionOwner: `REGARDS-${TENANT}`, session: 'L2_RAD-2026-11-22-foo' })
    expect(computeSessionNameAndOwner(req, '{$.properties.list[0]}-#day', 'other', now)).toEqual({ sessionOwner: 'REGARDS-other', session: 'first-2026-11-22' })
    expect(computeSessionNameAndOwner(req, "{$['properties'].n}-#day_x", TENANT, now).session).toBe('4-2026-11-22_x')
  })

  it('falls back to sessionNamePatternError-<date> when the path or the pattern does not work', () => {
    for (const pattern of ['{properties.missing}-#day', '{properties.obj}-#day', '{properties.data}-#day', 'properties.data.type-#day', '{properties.data.type}#day', '{properties..type}-#day']) {
      expect(computeSessionNameAndOwner(req, pattern, TENANT, now), pattern).toEqual({ sessionOwner: `REGARDS-${TENANT}`, session: 'sessionNamePatternError-2026-11-22' })
    }
  })

  it('reads the JSONPath subset', () => {
    const doc = { a: { b: [{ c: 1 }, { 'd.e': 2 }] } }
    expect(readJsonPath(doc, '$.a.b[0].c')).toBe(1)
    expect(readJsonPath(doc, "a.b[1]['d.e']")).toBe(2)
    expect(readJsonPath(doc, 'a.b[2].c')).toBeUndefined()
    expect(readJsonPath(doc, 'a.toString')).toBeUndefined()
    expect(readJsonPath(doc, 'a[')).toBeUndefined()
  })
})

describe('LtaRequestSender files', () => {
  it('maps feature files to LTA product files, unknown data types to RAWDATA', () => {
    expect(productFiles({ id: 'p', files: [file('x', 'THUMBNAIL'), file('y', 'SOMETHING')] })).toEqual({
      files: [
        { type: 'THUMBNAIL', url: 'file:///data/x', filename: 'x', checksum: 'md5-x', mimeType: 'application/octet-stream' },
        { type: 'RAWDATA', url: 'file:///data/y', filename: 'y', checksum: 'md5-y', mimeType: 'application/octet-stream' },
      ],
    })
    expect(productFiles({ id: 'p' })).toEqual({ error: 'feature "p" has no files: an LTA submission needs at least one' })
    expect(productFiles({ id: 'p', files: [{ attributes: { filename: 'z' }, locations: [] }] })).toEqual({ error: 'file 0 ("z") of feature "p" has no location url' })
  })

  it('validates its parameters', () => {
    expect(ltaRequestSender.validate({})).toEqual(['parameter exchange is mandatory', 'parameter dataType is mandatory', 'parameter replaceMode is mandatory'])
    expect(ltaRequestSender.validate({ exchange: 'x', dataType: 'T', replaceMode: 'maybe' })).toEqual(['parameter replaceMode must be a BOOLEAN (true or false), got "maybe"'])
    expect(ltaRequestSender.validate({ exchange: 'x', dataType: 'T', replaceMode: false, blockingRequired: true })).toHaveLength(1)
    expect(workerManagerSender.validate({ exchange: 'x' })).toEqual(['parameter contentType is mandatory'])
    expect(workerManagerSender.describe({ exchange: 'x', contentType: 'c', recipientLabel: 'wm', ackRequired: true, blockingRequired: true })).toEqual({
      recipientLabel: 'wm',
      ackRequired: true,
      blockingRequired: true,
      directNotificationEnabled: false,
      description: 'Rabbit MQ sender',
    })
  })
})

describe('WorkerManagerSender and LtaRequestSender against RabbitMQ', () => {
  let amqp: SenderBroker
  let rabbit: Connection
  let ctx: SenderContext

  beforeAll(async () => {
    amqp = await openSenderBroker()
    ctx = amqp.ctx
    rabbit = amqp.rabbit
  })

  afterAll(async () => {
    await amqp?.close()
  })

  async function sendAndRead(plugin: typeof workerManagerSender, params: Parameters, items: DeliveryItem[], expected: number) {
    expect(plugin.validate(params)).toEqual([])
    const results = await plugin.create(params, ctx).send(items)
    const messages: AsyncMessage[] = []
    const consumer = await collect(rabbit, String(params.queueName), messages)
    await waitFor(() => messages.length === expected, `${expected} messages`)
    await consumer.close()
    return { results, messages }
  }

  it('WorkerManagerSender: the payload as body, with the worker-manager headers', async () => {
    const params = { exchange: WM_EXCHANGE, queueName: 'wm.requests', contentType: 'application/geo+json', recipientTenant: 'workers', queueDeadLetterRoutingKey: 'wm.requests.DLQ' }
    const withMetadata = item(feature())
    const withoutSession = item(feature(), { action: 'CREATED' })
    const { results, messages } = await sendAndRead(workerManagerSender, params, [withMetadata, withoutSession], 1)
    expect(results[0]).toMatchObject({ ok: true })
    expect(results[1]).toEqual({
      ok: false,
      permanent: true,
      errorClass: 'SESSION_MISSING',
      message: 'no metadata.sessionOwner nor metadata.session in the request and no sessionNamePattern configured: cannot name the session',
    })
    const [m] = messages
    expect(body(m)).toEqual(withMetadata.payload)
    expect(m.contentType).toBe('application/json')
    expect(m.priority).toBe(0)
    expect(m.headers).toMatchObject({
      'regards.tenant': 'workers',
      'regards.request.content_type': 'application/geo+json',
      'regards.request.owner': 'fem-owner',
      'regards.request.session': 'fem-session',
    })
    expect(m.headers?.['regards.request.id']).toMatch(UUID)
    expect(m.headers?.['regards.request.id']).not.toBe(withMetadata.requestId)
    expect(m.headers?.['regards.type']).toBeUndefined()
    // Declared with the configured dead-letter routing key.
    await rabbit.queueDeclare({ queue: 'wm.requests', durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'wm.requests.DLQ' } })
  })

  it('WorkerManagerSender: session from sessionNamePattern', async () => {
    const params = { exchange: 'wm.pattern', queueName: 'wm.pattern.q', contentType: 'ct', sessionNamePattern: '{properties.data.type}-#day-nrt' }
    const { results, messages } = await sendAndRead(workerManagerSender, params, [item(feature(), {}), item(feature({ properties: {} }), {})], 2)
    expect(results).toMatchObject([{ ok: true }, { ok: true }])
    expect(messages.map((m) => [m.headers?.['regards.request.owner'], m.headers?.['regards.request.session'], m.headers?.['regards.tenant']])).toEqual([
      [`REGARDS-${TENANT}`, `L2_RAD-${today()}-nrt`, TENANT],
      [`REGARDS-${TENANT}`, `sessionNamePatternError-${today()}`, TENANT],
    ])
  })

  it('LtaRequestSender: one SubmissionRequestDto per feature; a feature without files fails alone', async () => {
    const params = { exchange: 'lta.submission', queueName: 'lta.submission.q', dataType: 'L2_PRODUCT', replaceMode: true, sessionNamePattern: '{properties.data.type}-#day' }
    const good = item(feature())
    const noFiles = item(feature({ files: [] }))
    const noUrn = item(feature({ urn: undefined, geometry: undefined }))
    const { results, messages } = await sendAndRead(ltaRequestSender, params, [good, noFiles, noUrn], 2)
    expect(results[0]).toMatchObject({ ok: true })
    expect(results[1]).toEqual({ ok: false, permanent: true, errorClass: 'LTA_INVALID_PRODUCT', message: `feature "${noFiles.payload.id}" has no files: an LTA submission needs at least one` })
    expect(results[2]).toMatchObject({ ok: true })
    const [first, second] = messages
    // Key order is the Gson field order of SubmissionRequestDto.
    expect(Object.keys(body(first))).toEqual(['correlationId', 'productId', 'datatype', 'geometry', 'files', 'tags', 'originUrn', 'properties', 'session', 'replaceMode'])
    expect(body(first)).toEqual({
      correlationId: good.requestId,
      productId: good.payload.id,
      datatype: 'L2_PRODUCT',
      geometry: { type: 'Point', coordinates: [10, 20] },
      files: [
        { type: 'RAWDATA', url: 'file:///data/a.nc', filename: 'a.nc', checksum: 'md5-a.nc', mimeType: 'application/octet-stream' },
        { type: 'QUICKLOOK_SD', url: 'file:///data/a.png', filename: 'a.png', checksum: 'md5-a.png', mimeType: 'application/octet-stream' },
      ],
      tags: [],
      originUrn: good.payload.urn,
      properties: good.payload.properties,
      session: `L2_RAD-${today()}`,
      replaceMode: true,
    })
    expect(first.headers).toEqual({ 'regards.request.id': good.requestId, 'regards.tenant': TENANT, 'regards.request.owner': `REGARDS-${TENANT}` })
    expect(first.contentType).toBe('application/json')
    expect(first.priority).toBe(0)
    expect(body(second)).not.toHaveProperty('originUrn')
    expect(body(second)).not.toHaveProperty('geometry')
    expect(body(second).correlationId).toBe(noUrn.requestId)
  })
})

describe('postgres: WorkerManagerSender and LtaRequestSender end to end through the notifier', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  const consumers: Awaited<ReturnType<typeof collect>>[] = []
  const wm: AsyncMessage[] = []
  const lta: AsyncMessage[] = []

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url })
    await importConfig(herald, TENANT, [
      pluginConf('WorkerManagerSender', 'to-workers', {
        exchange: WM_EXCHANGE,
        queueName: 'e2e.wm',
        contentType: 'application/geo+json',
        recipientLabel: 'worker-manager',
        ackRequired: true,
        blockingRequired: true,
        maxAttempts: 2,
        retryInitialDelayMs: 50,
      }),
      pluginConf('LtaRequestSender', 'to-lta', {
        exchange: 'regards.broadcast.fr.cnes.regards.modules.ltamanager.amqp.input.SubmissionRequestDtoEvent',
        queueName: 'e2e.lta',
        dataType: 'L2',
        replaceMode: false,
        recipientLabel: 'lta',
        maxAttempts: 2,
        retryInitialDelayMs: 50,
      }),
      pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED', payload_rule: 'type:Feature' }),
      association('created', ['to-workers', 'to-lta']),
    ])
    client = new RegardsClient(vhost.url)
    await client.listenToEvents()
    for (const [exchange, queue, into] of [[WM_EXCHANGE, 'e2e.wm', wm], ['regards.broadcast.fr.cnes.regards.modules.ltamanager.amqp.input.SubmissionRequestDtoEvent', 'e2e.lta', lta]] as const) {
      await client.rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
      await client.rabbit.queueDeclare({ queue, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
      await client.rabbit.queueBind({ queue, exchange, routingKey: '' })
      consumers.push(await collect(client.rabbit, queue, into as AsyncMessage[]))
    }
  })

  afterAll(async () => {
    for (const c of consumers) await c.close()
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  const metadata = { action: 'CREATED', sessionOwner: 'fem', session: 'daily' }
  const completion = (id: string) => client.eventsFor(id).find((e) => ['SUCCESS', 'ERROR'].includes(e.body.state))?.body

  it('delivers to the worker manager and to the LTA manager, then SUCCESS with both recipients', async () => {
    const requestId = randomUUID()
    const payload = feature()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload, metadata } })
    await waitFor(() => Boolean(completion(requestId)), 'completion', { timeoutMs: 20_000, wakeOn: client.onMessage })
    expect(completion(requestId)).toMatchObject({ state: 'SUCCESS' })
    expect(completion(requestId).recipients).toEqual(
      expect.arrayContaining([
        { label: 'worker-manager', status: 'SUCCESS', ackRequired: true, blockingRequired: true },
        { label: 'lta', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
      ]),
    )
    await waitFor(() => wm.some((m) => body(m).id === payload.id) && lta.some((m) => body(m).productId === payload.id), 'both messages')
    const toWorkers = wm.find((m) => body(m).id === payload.id)!
    expect(body(toWorkers)).toEqual(payload)
    expect(toWorkers.headers).toMatchObject({ 'regards.tenant': TENANT, 'regards.request.owner': 'fem', 'regards.request.session': 'daily' })
    const toLta = lta.find((m) => body(m).productId === payload.id)!
    expect(body(toLta)).toMatchObject({ correlationId: requestId, datatype: 'L2', session: 'daily', replaceMode: false })
    expect(toLta.headers).toMatchObject({ 'regards.request.id': requestId, 'regards.request.owner': 'fem' })
  })

  it('reports the LTA recipient in ERROR for a feature without files, the worker manager in SUCCESS', async () => {
    const requestId = randomUUID()
    const payload = feature({ files: [] })
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload, metadata } })
    await waitFor(() => Boolean(completion(requestId)), 'completion', { timeoutMs: 20_000, wakeOn: client.onMessage })
    expect(completion(requestId)).toMatchObject({
      state: 'ERROR',
      recipients: [
        { label: 'worker-manager', status: 'SUCCESS', ackRequired: true, blockingRequired: true },
        { label: 'lta', status: 'ERROR', ackRequired: false, blockingRequired: false },
      ],
    })
  })
})
