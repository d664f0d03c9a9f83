import { randomUUID } from 'node:crypto'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { FEATURE_ACK_EXCHANGE } from '../src/catalog/topology.ts'
import { ConfigImportError, importNotifierConfig } from '../src/notifier/config-import.ts'
import { mayPublishAs, parseCrossTenantRules, publishingProblems } from '../src/senders/tenant-boundary.ts'
import { param, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, configFile, pluginConf } from './support/herald.ts'
import { collectQueue } from './support/sender-rig.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

describe('HERALD_ALLOW_CROSS_TENANT_PUBLISH', () => {
  it('reads FROM:TO pairs with * on either side', () => {
    expect(parseCrossTenantRules(undefined)).toEqual([])
    expect(parseCrossTenantRules(' b:a , *:archive,*')).toEqual([{ from: 'b', to: 'a' }, { from: '*', to: 'archive' }, { from: '*', to: '*' }])
    for (const bad of ['b', 'b:', ':a', 'a:b:c']) expect(() => parseCrossTenantRules(bad), bad).toThrow(`HERALD_ALLOW_CROSS_TENANT_PUBLISH: ${JSON.stringify(bad)} is not FROM:TO`)
    const rules = parseCrossTenantRules('b:a,*:archive')
    expect(mayPublishAs([], 'a', 'a')).toBe(true)
    expect(mayPublishAs([], 'a', 'b')).toBe(false)
    expect(mayPublishAs(rules, 'b', 'a')).toBe(true)
    expect(mayPublishAs(rules, 'a', 'b')).toBe(false)
    expect(mayPublishAs(rules, 'c', 'archive')).toBe(true)
  })

  it('names each parameter that leaves the tenant or enters Herald’s intake', () => {
    expect(publishingProblems({ recipientTenant: 'project1', exchange: 'wm.exchange', queueName: 'wm.q', queueDeadLetterRoutingKey: 'regards.DLQ' }, TENANT, [])).toEqual([])
    expect(publishingProblems({ recipientTenant: 'project2', exchange: NOTIFICATION_REQUEST_EXCHANGE, queueName: NOTIFICATION_REQUEST_QUEUE }, TENANT, [])).toEqual([
      'parameter recipientTenant: "project2" is another tenant than the recipient\'s (project1): the instance operator allows it with HERALD_ALLOW_CROSS_TENANT_PUBLISH=project1:project2',
      `parameter exchange: ${NOTIFICATION_REQUEST_EXCHANGE} is an exchange Herald consumes; a recipient may not publish into Herald's own intake`,
      `parameter queueName: ${NOTIFICATION_REQUEST_QUEUE} is a queue of Herald's own intake; a recipient may not bind or dead-letter into it`,
    ])
    expect(publishingProblems({ featureDisseminationExchange: FEATURE_ACK_EXCHANGE, featureDisseminationQueueName: `${NOTIFICATION_REQUEST_QUEUE}.DLQ` }, TENANT, [])).toHaveLength(2)
    expect(publishingProblems({ recipientTenant: 'project2' }, TENANT, parseCrossTenantRules('project1:project2'))).toEqual([])
  })
})

const workerManager = (businessId: string, recipientTenant: string) => ({
  businessId,
  pluginId: 'WorkerManagerSender',
  label: businessId,
  parameters: [param('exchange', `wm.${businessId}`), param('queueName', `wm.${businessId}.q`), param('contentType', 'application/json'), param('recipientTenant', recipientTenant), param('sessionNamePattern', 'herald')],
})

describe('postgres: a tenant ADMIN cannot make Herald publish as another tenant', () => {
  let f: HttpFixture
  let client: RegardsClient

  beforeAll(async () => {
    f = await startHttpFixture('postgres')
    client = new RegardsClient(f.vhost.url)
    await client.listenToEvents()
  })

  afterAll(async () => {
    await client?.close()
    await f?.close()
  })

  it('REST: 400 naming the recipient and recipientTenant; its own tenant is fine', async () => {
    const refused = await f.call('POST', '/api/v1/recipients', { body: workerManager('wm-other', 'project2') })
    expect(refused.statusCode).toBe(400)
    expect(refused.json().detail).toContain('plugin configuration wm-other (WorkerManagerSender): parameter recipientTenant: "project2" is another tenant')
    expect((await f.call('POST', '/api/v1/recipients', { body: workerManager('wm-own', TENANT) })).statusCode).toBe(201)
    const updated = await f.call('PUT', '/api/v1/recipients/wm-own', { body: { ...workerManager('wm-own', 'project9'), businessId: undefined } })
    expect(updated.statusCode).toBe(400)
  })

  it('REST: 400 for a recipient publishing into Herald’s intake exchange', async () => {
    const body = { businessId: 'loop', pluginId: 'RabbitMQSender', label: 'loop', parameters: [param('exchange', NOTIFICATION_REQUEST_EXCHANGE)] }
    const refused = await f.call('POST', '/api/v1/recipients', { body })
    expect(refused.statusCode).toBe(400)
    expect(refused.json().detail).toContain(`plugin configuration loop (RabbitMQSender): parameter exchange: ${NOTIFICATION_REQUEST_EXCHANGE} is an exchange Herald consumes`)
  })

  it('import (CLI, REST): refused as a whole, naming the entry and the parameter', async () => {
    const file = configFile([pluginConf('WorkerManagerSender', 'wm-import', { exchange: 'wm.x', contentType: 'application/json', recipientTenant: 'project2' })])
    const err = await importNotifierConfig(f.herald.ctx.db, f.herald.ctx.secrets, TENANT, file, { crossTenantPublish: f.herald.ctx.config.crossTenantPublish }).catch((e) => e)
    expect(err).toBeInstanceOf(ConfigImportError)
    expect((err as ConfigImportError).errors).toEqual([
      'plugin configuration wm-import (WorkerManagerSender): parameter recipientTenant: "project2" is another tenant than the recipient\'s (project1): the instance operator allows it with HERALD_ALLOW_CROSS_TENANT_PUBLISH=project1:project2',
    ])
    const rest = await f.call('POST', '/api/v1/configuration', { body: file })
    // The import endpoint's answer for every refused file (all or nothing).
    expect(rest.statusCode).toBe(409)
    expect(JSON.stringify(rest.json())).toContain('wm-import (WorkerManagerSender): parameter recipientTenant')
  })

  it('delivery: an acknowledgement whose URN names another tenant fails (ACK_OTHER_TENANT), its own tenant’s is sent', async () => {
    const acks: AsyncMessage[] = []
    // Stored by a permissive import (as a row written before the check would be); the running Herald is strict.
    await importNotifierConfig(f.herald.ctx.db, f.herald.ctx.secrets, TENANT, configFile([
      pluginConf('DisseminationAckSender', 'ack', { senderLabel: 'B', recipientLabel: 'ack', featureDisseminationExchange: 'tb.ack', featureDisseminationQueueName: 'tb.ack.q' }),
      pluginConf('WorkerManagerSender', 'wm-stored', { exchange: 'wm.stored', queueName: 'wm.stored.q', contentType: 'application/json', recipientTenant: 'project2', recipientLabel: 'wm', sessionNamePattern: 'herald' }),
      pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
      association('created', ['ack', 'wm-stored']),
    ]), { crossTenantPublish: parseCrossTenantRules('*') })
    f.herald.ctx.configCache.invalidate(TENANT)
    await client.rabbit.exchangeDeclare({ exchange: 'tb.ack', type: 'fanout', durable: true })
    await client.rabbit.queueDeclare({ queue: 'tb.ack.q', durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
    await client.rabbit.queueBind({ queue: 'tb.ack.q', exchange: 'tb.ack', routingKey: '' })
    const consumer = await collectQueue(client.rabbit, 'tb.ack.q', acks)
    try {
      const own = `URN:FEATURE:DATA:${TENANT}:${randomUUID()}:V1`
      const other = `URN:FEATURE:DATA:project2:${randomUUID()}:V1`
      const ids = [randomUUID(), randomUUID()]
      for (const [i, urn] of [own, other].entries()) {
        await client.publishRequest({ tenant: TENANT, requestId: ids[i], owner: 'rs-fem', body: { payload: { type: 'Feature', id: `p${i}`, urn }, metadata: { action: 'CREATED' } } })
      }
      const final = (id: string) => client.eventsFor(id).find((e) => ['SUCCESS', 'ERROR'].includes(e.body.state))?.body
      await waitFor(() => ids.every((id) => final(id)), 'both completions', { timeoutMs: 20_000, wakeOn: client.onMessage })
      const status = (id: string, label: string) => final(id).recipients.find((r: { label: string }) => r.label === label)?.status
      expect(status(ids[0], 'ack')).toBe('SUCCESS')
      expect(status(ids[1], 'ack')).toBe('ERROR')
      // The stored recipientTenant is refused when the sender is built: nothing goes out as project2.
      expect(status(ids[0], 'wm')).toBe('ERROR')
      await waitFor(() => acks.length === 1, 'the own-tenant acknowledgement')
      expect(acks.map((m) => JSON.parse(m.body.toString()).urn)).toEqual([own])
      const deliveries = await f.call('GET', `/api/v1/requests/${ids[1]}`)
      expect(JSON.stringify(deliveries.json())).toContain('another tenant than the recipient')
    } finally {
      await consumer.close()
    }
  })
})
