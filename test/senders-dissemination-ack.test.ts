import { randomUUID } from 'node:crypto'
import { Connection, type AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import { AIP_ACK_TYPE, disseminationAckSender, FEATURE_ACK_TYPE, urnKind } from '../src/senders/dissemination-ack-sender.ts'
import type { DeliveryItem, SenderContext } from '../src/senders/sender.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { collectQueue as collect, deliveryItem, openSenderBroker, type SenderBroker } from './support/sender-rig.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project2'
const featureUrn = (tenant = 'origin1') => `URN:FEATURE:DATA:${tenant}:${randomUUID()}:V1`
const aipUrn = (tenant = 'origin1', id = 'AIP') => `URN:${id}:DATA:${tenant}:${randomUUID()}:V2`
const body = (m: AsyncMessage) => JSON.parse((m.body as Buffer).toString('utf8'))

const item = (payload: Record<string, unknown>): DeliveryItem => deliveryItem({ tenant: TENANT, payload })

describe('DisseminationAckSender', () => {
  it('recognises REGARDS URNs', () => {
    expect(urnKind('URN:FEATURE:DATA:project1:c6487db8-9955-3917-a7e2-0374ccde903c:V1')).toBe('FEATURE')
    expect(urnKind('URN:FEATURE:DATA:project1:uuid:LAST')).toBe('FEATURE')
    expect(urnKind('URN:AIP:DATA:project1:uuid:V12,3:REV2')).toBe('OAIS')
    expect(urnKind('URN:SIP:DATA:project1:uuid:V999')).toBe('OAIS')
    expect(urnKind('URN:DIP:COLLECTION:project1:uuid:V1')).toBe('OAIS')
    for (const bad of ['URN:FEATURE:DATA:project1:uuid:V1000', 'URN:FEATURE:DATA:project1:uuid', 'urn:feature:DATA:p:u:V1', 'URN:DATASET:DATA:p:u:V1', ' URN:AIP:DATA:p:u:V1', 'URN:AIP:DATA:p:u:V1 ']) {
      expect(urnKind(bad), bad).toBeUndefined()
    }
  })

  it('refuses a configuration without a complete exchange and queue pair, and never requires an ack', () => {
    const v = disseminationAckSender.validate
    expect(v({ senderLabel: 'B' })).toEqual(['Bad configuration, missing cohesive exchange and queue names'])
    expect(v({ senderLabel: 'B', featureDisseminationExchange: 'x', aipDisseminationQueueName: 'q' })).toEqual(['Bad configuration, missing cohesive exchange and queue names'])
    expect(v({ featureDisseminationExchange: 'x', featureDisseminationQueueName: 'q' })).toEqual(['parameter senderLabel is mandatory'])
    expect(v({ senderLabel: 'B', aipDisseminationExchange: 'x', aipDisseminationQueueName: 'q' })).toEqual([])
    expect(disseminationAckSender.describe({ senderLabel: 'B', recipientLabel: 'ack', ackRequired: true, blockingRequired: true })).toEqual({
      recipientLabel: 'ack',
      ackRequired: false,
      blockingRequired: false,
      directNotificationEnabled: false,
      description: 'Ack dissemination sender',
    })
    expect(disseminationAckSender.describe({ senderLabel: 'B', description: 'to A', directNotificationEnabled: true })).toMatchObject({ description: 'to A', directNotificationEnabled: true })
  })

  describe('against RabbitMQ', () => {
    let amqp: SenderBroker
    let rabbit: Connection
    let ctx: SenderContext
    const FEATURE_EX = 'ack.feature.exchange'
    const FEATURE_Q = 'ack.feature.queue'
    const AIP_EX = 'ack.aip.exchange'
    const AIP_Q = 'ack.aip.queue'

    beforeAll(async () => {
      amqp = await openSenderBroker()
      ctx = amqp.ctx
      rabbit = amqp.rabbit
    })

    afterAll(async () => {
      await amqp?.close()
    })

    it('sends feature and AIP acknowledgements to their own exchange and queue; an invalid URN fails alone', async () => {
      const params = {
        senderLabel: 'REGARDS-B',
        featureDisseminationExchange: FEATURE_EX,
        featureDisseminationQueueName: FEATURE_Q,
        featureDisseminationUseDedicatedDlq: true,
        aipDisseminationExchange: AIP_EX,
        aipDisseminationQueueName: AIP_Q,
        aipDisseminationUseDedicatedDlq: true,
      }
      expect(disseminationAckSender.validate(params)).toEqual([])
      const sender = disseminationAckSender.create(params, ctx)
      const feature = featureUrn('originA')
      const otherTenant = featureUrn('originC')
      const aip = aipUrn('originA')
      const sip = aipUrn('originB', 'SIP')
      const items = [
        item({ type: 'Feature', id: 'f1', urn: feature }),
        item({ type: 'Feature', id: 'bad', urn: 'URN:FEATURE:DATA:originA:not-a-version' }),
        item({ aipId: aip, originUrn: aip }),
        item({ type: 'Feature', id: 'none' }),
        item({ originUrn: sip }),
        item({ type: 'Feature', id: 'f2', urn: otherTenant }),
        item({ type: 'Feature', id: 'dataset', urn: 'URN:DATASET:DATA:originA:abc:V1' }),
      ]
      const results = await sender.send(items)
      expect(results[0]).toMatchObject({ ok: true })
      expect(results[1]).toMatchObject({ ok: false, permanent: true, errorClass: 'ACK_INVALID_URN' })
      expect((results[1] as { message: string }).message).toContain('URN:FEATURE:DATA:originA:not-a-version')
      expect(results[2]).toMatchObject({ ok: true })
      expect(results[3]).toEqual({ ok: false, permanent: true, errorClass: 'ACK_NO_URN', message: 'no URN in payload.urn or payload.originUrn: nothing to acknowledge' })
      expect(results[4]).toMatchObject({ ok: true })
      expect(results[5]).toMatchObject({ ok: true })
      expect(results[6]).toMatchObject({ ok: false, permanent: true, errorClass: 'ACK_INVALID_URN' })

      // The queues exist with REGARDS' arguments: re-declaring them identically is accepted.
      await rabbit.queueDeclare({ queue: FEATURE_Q, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': `${FEATURE_Q}.DLQ` } })
      await rabbit.queueDeclare({ queue: AIP_Q, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': `${AIP_Q}.dlq` } })

      const featureMessages: AsyncMessage[] = []
      const aipMessages: AsyncMessage[] = []
      const consumers = [await collect(rabbit, FEATURE_Q, featureMessages), await collect(rabbit, AIP_Q, aipMessages)]
      await waitFor(() => featureMessages.length === 2 && aipMessages.length === 2, 'the four acknowledgements')
      for (const c of consumers) await c.close()

      expect(featureMessages.map(body)).toEqual([
        { urn: feature, recipientLabel: 'REGARDS-B' },
        { urn: otherTenant, recipientLabel: 'REGARDS-B' },
      ])
      expect(featureMessages.map((m) => m.headers?.['regards.tenant'])).toEqual(['originA', 'originC'])
      for (const m of featureMessages) {
        expect(m.headers).toMatchObject({ 'regards.type': FEATURE_ACK_TYPE, 'regards.converter': 'GSON' })
        expect(m.priority).toBe(0)
        expect(m.appId).toBe('REGARDS')
        expect(m.contentType).toBe('application/json')
      }
      expect(aipMessages.map(body)).toEqual([
        { urn: aip, recipientLabel: 'REGARDS-B' },
        { urn: sip, recipientLabel: 'REGARDS-B' },
      ])
      expect(aipMessages.map((m) => m.headers?.['regards.tenant'])).toEqual(['originA', 'originB'])
      for (const m of aipMessages) expect(m.headers).toMatchObject({ 'regards.type': AIP_ACK_TYPE, 'regards.converter': 'GSON' })
    })

    it('takes the URN from propertyPathToUrn only, and fails a URN kind that has no configured pair', async () => {
      const queue = 'ack.path.queue'
      const sender = disseminationAckSender.create(
        { senderLabel: 'B', propertyPathToUrn: 'properties.origin.urn', featureDisseminationExchange: 'ack.path.exchange', featureDisseminationQueueName: queue },
        ctx,
      )
      const origin = featureUrn('originA')
      const results = await sender.send([
        item({ urn: featureUrn('local'), properties: { origin: { urn: origin } } }),
        item({ urn: featureUrn('local'), properties: {} }),
        item({ urn: featureUrn('local'), properties: { origin: { urn: { nested: true } } } }),
        item({ properties: { origin: { urn: aipUrn() } } }),
      ])
      expect(results[0]).toMatchObject({ ok: true })
      expect(results[1]).toEqual({ ok: false, permanent: true, errorClass: 'ACK_NO_URN', message: 'no URN at payload path properties.origin.urn: nothing to acknowledge' })
      expect(results[2]).toMatchObject({ ok: false, permanent: true, errorClass: 'ACK_NO_URN' })
      expect(results[3]).toMatchObject({ ok: false, permanent: true, errorClass: 'ACK_NO_TARGET' })
      expect((results[3] as { message: string }).message).toContain('aipDisseminationExchange and aipDisseminationQueueName are not set')
      // The global DLQ routing key when no dedicated DLQ is asked for.
      await rabbit.queueDeclare({ queue, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
      const messages: AsyncMessage[] = []
      const consumer = await collect(rabbit, queue, messages)
      await waitFor(() => messages.length === 1, 'the acknowledgement')
      await consumer.close()
      expect(body(messages[0])).toEqual({ urn: origin, recipientLabel: 'B' })
    })
  })
})

describe('postgres: DisseminationAckSender end to end through the notifier', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  const acks: AsyncMessage[] = []
  let ackConsumer: Awaited<ReturnType<typeof collect>> | undefined
  const QUEUE = 'regards.ack.to-origin'

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    // The acknowledged URNs are project1's: this instance lets project2's recipients publish as project1.
    herald = await startTestHerald({ storage, amqpUrl: vhost.url, env: { HERALD_ALLOW_CROSS_TENANT_PUBLISH: `${TENANT}:project1` } })
    await importConfig(herald, TENANT, [
      pluginConf('DisseminationAckSender', 'ack-to-a', {
        senderLabel: 'REGARDS-B',
        recipientLabel: 'ack-a',
        featureDisseminationExchange: 'regards.ack.exchange',
        featureDisseminationQueueName: QUEUE,
        maxAttempts: 2,
        retryInitialDelayMs: 50,
      }),
      pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED', payload_rule: 'type:Feature' }),
      association('created', ['ack-to-a']),
    ])
    client = new RegardsClient(vhost.url)
    await client.listenToEvents()
    // Declared as the sender declares it, so the test can read it before the first acknowledgement.
    await client.rabbit.exchangeDeclare({ exchange: 'regards.ack.exchange', type: 'fanout', durable: true })
    await client.rabbit.queueDeclare({ queue: QUEUE, durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
    await client.rabbit.queueBind({ queue: QUEUE, exchange: 'regards.ack.exchange', routingKey: '' })
    ackConsumer = await collect(client.rabbit, QUEUE, acks)
  })

  afterAll(async () => {
    await ackConsumer?.close()
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  it('acknowledges a valid URN (SUCCESS) and reports the recipient in ERROR for an invalid one', async () => {
    const good = randomUUID()
    const bad = randomUUID()
    const urn = featureUrn('project1')
    await client.publishRequest({ tenant: TENANT, requestId: good, owner: 'rs-fem', body: { payload: { type: 'Feature', id: 'ok', urn }, metadata: { action: 'CREATED' } } })
    await client.publishRequest({ tenant: TENANT, requestId: bad, owner: 'rs-fem', body: { payload: { type: 'Feature', id: 'ko', urn: 'URN:FEATURE:DATA:project1' }, metadata: { action: 'CREATED' } } })
    const final = (id: string) => client.eventsFor(id).find((e) => ['SUCCESS', 'ERROR'].includes(e.body.state))?.body
    await waitFor(() => Boolean(final(good) && final(bad)), 'both completions', { timeoutMs: 20_000, wakeOn: client.onMessage })
    expect(final(good)).toMatchObject({ state: 'SUCCESS', recipients: [{ label: 'ack-a', status: 'SUCCESS', ackRequired: false, blockingRequired: false }] })
    expect(final(bad)).toMatchObject({ state: 'ERROR', recipients: [{ label: 'ack-a', status: 'ERROR', ackRequired: false, blockingRequired: false }] })
    await waitFor(() => acks.length > 0, 'the acknowledgement')
    expect(acks.map(body)).toEqual([{ urn, recipientLabel: 'REGARDS-B' }])
    expect(acks[0].headers).toMatchObject({ 'regards.tenant': 'project1', 'regards.type': FEATURE_ACK_TYPE })
  })
})
