import { randomUUID } from 'node:crypto'
import { Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { getRequest } from '../src/notifier/request-listing.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const good = () => ({ payload: { id: randomUUID(), properties: { ok: true } }, metadata: { action: 'CREATED' } })

describe('postgres: bad input gets a clear answer and never blocks the good messages', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  const dlq: { headers: Record<string, unknown> }[] = []

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url })
    client = new RegardsClient(vhost.url)
    // An exchange of another type makes the sender's fanout declaration fail (PRECONDITION_FAILED).
    await client.rabbit.exchangeDeclare({ exchange: 'ext.conflict', type: 'topic', durable: true })
    await importConfig(herald, TENANT, [
      pluginConf('RabbitMQSender', 'good', { exchange: 'ext.good', queueName: 'ext.good.q', recipientLabel: 'good' }),
      pluginConf('RabbitMQSender', 'broken', { exchange: 'ext.conflict', recipientLabel: 'broken', maxAttempts: '1' }),
      // Declared by the sender, but no queue is bound to it: the broker would drop what it receives.
      pluginConf('RabbitMQSender', 'unbound', { exchange: 'ext.unbound', recipientLabel: 'unbound', maxAttempts: '1' }),
      pluginConf('RabbitMQSender', 'inactive', { exchange: 'ext.inactive', recipientLabel: 'inactive', directNotificationEnabled: true }, { active: false }),
      pluginConf('RabbitMQSender', 'not-direct', { exchange: 'ext.nd', recipientLabel: 'not-direct' }),
      pluginConf('LuceneRuleMatcher', 'all', {}),
      pluginConf('LuceneRuleMatcher', 'to-broken', { payload_rule: 'properties.target:broken' }),
      pluginConf('LuceneRuleMatcher', 'to-unbound', { payload_rule: 'properties.target:unbound' }),
      association('all', ['good']),
      association('to-broken', ['broken']),
      association('to-unbound', ['unbound']),
    ])
    await client.listenToEvents()
    await client.collect(`${NOTIFICATION_REQUEST_QUEUE}.DLQ`, dlq as any)
  })

  afterAll(async () => {
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  const deniedFor = async (requestId: string) => {
    await waitFor(() => client.eventsFor(requestId).length > 0, `event for ${requestId}`, { timeoutMs: 15_000, wakeOn: client.onMessage })
    const events = client.eventsFor(requestId)
    expect(events.map((e) => e.body.state)).toEqual(['DENIED'])
    return events[0].body.errors.join(' ')
  }

  it.each([
    ['a 37-character request id', { requestId: 'x'.repeat(37) }, /regards\.request\.id.*37/],
    ['a 129-character owner', { owner: 'o'.repeat(129) }, /regards\.request\.owner.*129/],
    ['an unparseable request date', { date: 'yesterday' }, /regards\.request\.date.*yesterday/],
    ['a body that is an array', { body: [] }, /JSON object/],
    ['a body that is a string', { body: 'x' }, /JSON object/],
    ['a body without payload', { body: {} }, /payload is mandatory/],
    ['a payload that is not an object', { body: { payload: 3 } }, /payload must be a JSON object/],
    ['a body that is not JSON', { rawBody: Buffer.from('{"payload": ') }, /not JSON/],
    ['a body that is not UTF-8', { rawBody: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, /UTF-8/],
    ['an 11 MB body', { rawBody: Buffer.alloc(11 * 1024 * 1024, 0x20) }, /bytes/],
  ] as const)('answers DENIED to %s, naming the problem', async (_name, override, reason) => {
    const requestId = 'requestId' in override ? override.requestId : randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: good(), ...override })
    expect(await deniedFor(requestId)).toMatch(reason)
  })

  it.each([
    ['an unknown recipient', 'nobody', /nobody does not exist/],
    ['an inactive recipient', 'inactive', /inactive is not active/],
    ['a recipient without direct notification', 'not-direct', /not-direct does not enable direct notification/],
  ])('answers DENIED to a direct notification to %s', async (_name, recipient, reason) => {
    const requestId = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', direct: true, body: { ...good(), recipients: [recipient] } })
    expect(await deniedFor(requestId)).toMatch(reason)
  })

  it('dead-letters messages it cannot answer (no tenant, no request id) with the reason', async () => {
    const marker = randomUUID()
    await client.publishRequest({ requestId: randomUUID(), body: good(), headers: { marker } })
    await client.publishRequest({ tenant: '', requestId: randomUUID(), body: good(), headers: { marker } })
    await client.publishRequest({ tenant: TENANT, body: good(), headers: { marker } })
    await client.publishRequest({ tenant: TENANT, requestId: '', body: good(), headers: { marker } })
    await waitFor(() => dlq.filter((m) => m.headers.marker === marker).length === 4, '4 dead letters', { timeoutMs: 15_000, wakeOn: client.onMessage })
    const reasons = dlq.filter((m) => m.headers.marker === marker).map((m) => String(m.headers['x-exception-message']))
    expect(reasons.filter((r) => /regards\.tenant/.test(r))).toHaveLength(2)
    expect(reasons.filter((r) => /regards\.request\.id/.test(r))).toHaveLength(2)
    expect(dlq.find((m) => m.headers.marker === marker)?.headers['x-death-queue']).toBe(NOTIFICATION_REQUEST_QUEUE)
  })

  it('processes the good messages published among bad ones', async () => {
    const goodIds = Array.from({ length: 20 }, () => randomUUID())
    const badIds = Array.from({ length: 20 }, () => randomUUID())
    for (let i = 0; i < 20; i++) {
      await client.publishRequest({ tenant: TENANT, requestId: badIds[i], owner: 'me', rawBody: Buffer.from('not json') })
      await client.publishRequest({ tenant: TENANT, requestId: goodIds[i], owner: 'me', body: good() })
    }
    await waitFor(() => goodIds.every((id) => client.eventsFor(id).some((e) => e.body.state === 'SUCCESS')), 'all good SUCCESS', { timeoutMs: 20_000, wakeOn: client.onMessage })
    await waitFor(() => badIds.every((id) => client.eventsFor(id).length === 1), 'all bad DENIED', { timeoutMs: 5_000, wakeOn: client.onMessage })
    expect(badIds.every((id) => client.eventsFor(id)[0].body.state === 'DENIED')).toBe(true)
  })

  it('ignores a second message with the same request id while the first is in progress', async () => {
    const requestId = randomUUID()
    // Dated in the future: the first request waits, so the second meets it in progress.
    const date = new Date(Date.now() + 60_000).toISOString()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', date, body: good() })
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', date, body: good() })
    const witness = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId: witness, owner: 'me', body: good() })
    await waitFor(() => client.eventsFor(witness).some((e) => e.body.state === 'SUCCESS'), 'witness SUCCESS', { timeoutMs: 15_000, wakeOn: client.onMessage })
    expect(client.eventsFor(requestId).map((e) => e.body.state)).toEqual(['GRANTED'])
  })

  it('reports the recipient whose exchange cannot be declared as ERROR, the others as SUCCESS', async () => {
    const requestId = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { payload: { properties: { target: 'broken' } }, metadata: {} } })
    await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'ERROR'), 'ERROR', { timeoutMs: 20_000, wakeOn: client.onMessage })
    const final = client.eventsFor(requestId).at(-1)!.body
    expect(final.state).toBe('ERROR')
    expect(final.recipients).toEqual([
      { label: 'good', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
      { label: 'broken', status: 'ERROR', ackRequired: false, blockingRequired: false },
    ])
  })

  it('reports a delivery the broker could not route to any queue as ERROR, then delivers it once a queue is bound', async () => {
    const requestId = randomUUID()
    const body = { payload: { properties: { target: 'unbound' } }, metadata: {} }
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body })
    await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'ERROR'), 'ERROR', { timeoutMs: 20_000, wakeOn: client.onMessage })
    expect(client.eventsFor(requestId).at(-1)!.body.recipients).toContainEqual({ label: 'unbound', status: 'ERROR', ackRequired: false, blockingRequired: false })
    const detail = await getRequest(herald.ctx.db, TENANT, requestId)
    const unbound = detail!.deliveries.find((d) => d.recipient === 'unbound')!
    expect(unbound.lastError).toMatch(/ext\.unbound routed the message to no queue.*NO_ROUTE/)
    expect(unbound.history[0].errorClass).toBe('AMQP_UNROUTABLE')

    // The recipient's queue exists now: the retry delivers the product there, with a stable message id.
    const received: { messageId?: string; body: unknown }[] = []
    await client.rabbit.queueDeclare({ queue: 'ext.unbound.q', durable: false, exclusive: true })
    await client.rabbit.queueBind({ queue: 'ext.unbound.q', exchange: 'ext.unbound' })
    await client.collect('ext.unbound.q', received as any)
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body })
    await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 20_000, wakeOn: client.onMessage })
    expect(received).toHaveLength(1)
    expect(received[0].messageId).toMatch(/^herald-delivery-\d+$/)
  })
})

describe('postgres: tenants this Herald does not serve', () => {
  it('acks and ignores their messages, and keeps serving its own tenants', async () => {
    const vhost = await createVhost()
    const storage = await createTestStorage('postgres')
    const herald = await startTestHerald({ storage, amqpUrl: vhost.url, env: { HERALD_TENANTS: 'served' } })
    const client = new RegardsClient(vhost.url)
    try {
      await client.listenToEvents()
      const stranger = randomUUID()
      const own = randomUUID()
      await client.publishRequest({ tenant: 'stranger', requestId: stranger, owner: 'me', body: good() })
      await client.publishRequest({ tenant: 'served', requestId: own, owner: 'me', body: good() })
      await waitFor(() => client.eventsFor(own).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect(client.eventsFor(stranger)).toEqual([])
      const probe = new Connection(vhost.url)
      const { messageCount } = await probe.queueDeclare({ queue: NOTIFICATION_REQUEST_QUEUE, passive: true })
      await probe.close()
      expect(messageCount).toBe(0)
    } finally {
      await client.close()
      await herald.stop()
      await storage.drop()
      await vhost.drop()
    }
  })
})
