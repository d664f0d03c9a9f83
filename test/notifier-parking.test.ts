import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import { parkRecipient, unparkRecipient } from '../src/notifier/recipient-state.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

describe('postgres: a recipient that is down is parked, then drains; the others never wait', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  let server: http.Server
  let down = true
  const webhookReceived = new Set<string>()
  const limitedAt: number[] = []
  const queueReceived: AsyncMessage[] = []

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (chunk) => (body += chunk))
      req.on('end', () => {
        if (req.url === '/limited') {
          limitedAt.push(Date.now())
          res.writeHead(204).end()
          return
        }
        if (down) {
          res.writeHead(503).end('maintenance')
          return
        }
        webhookReceived.add(JSON.parse(body).payload.id)
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url })
    client = new RegardsClient(vhost.url)
    await client.rabbit.exchangeDeclare({ exchange: 'ext.steady', type: 'fanout', durable: true })
    await client.rabbit.queueDeclare({ queue: 'ext.steady.q', durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
    await client.rabbit.queueBind({ queue: 'ext.steady.q', exchange: 'ext.steady' })
    await importConfig(herald, TENANT, [
      pluginConf('RabbitMQSender', 'steady', { exchange: 'ext.steady', recipientLabel: 'steady' }),
      pluginConf('WebhookSender', 'partner', {
        url,
        recipientLabel: 'partner',
        allowPrivateNetwork: true,
        maxAttempts: '3',
        retryInitialDelayMs: '100',
        parkAfterFailures: '5',
        probeIntervalMs: '500',
      }),
      pluginConf('WebhookSender', 'limited', { url: url.replace('/hook', '/limited'), recipientLabel: 'limited', allowPrivateNetwork: true, ratePerSecond: '40' }),
      pluginConf('LuceneRuleMatcher', 'all', { payload_rule: 'limited:null' }),
      pluginConf('LuceneRuleMatcher', 'to-limited', { payload_rule: 'limited:true' }),
      association('all', ['steady', 'partner']),
      association('to-limited', ['limited']),
    ])
    await client.listenToEvents()
    await client.collect('ext.steady.q', queueReceived)
  })

  afterAll(async () => {
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
    server?.close()
  })

  const parked = async () => {
    const { rows } = await sql<{ parked: boolean }>`select s.parked from recipient_state s
      join plugin_configuration c on c.id = s.recipient_id where c.business_id = 'partner'`.execute(herald.ctx.db)
    return rows[0]?.parked ?? false
  }

  it('parks the failing recipient, keeps the steady one flowing, and loses nothing', async () => {
    const ids = Array.from({ length: 800 }, () => randomUUID())
    for (const id of ids) await client.publishRequest({ tenant: TENANT, requestId: id, owner: 'me', body: { payload: { id }, metadata: {} } })
    // The steady recipient receives every product while the partner is down.
    await waitFor(() => queueReceived.length >= ids.length, 'steady deliveries', { timeoutMs: 60_000, wakeOn: client.onMessage })
    expect(await parked()).toBe(true)
    expect(webhookReceived.size).toBe(0)
    // No request may end while the partner is parked: its deliveries wait, none is failed.
    expect(client.events.filter((e) => e.body.state === 'ERROR')).toEqual([])

    down = false
    await waitFor(() => ids.every((id) => client.eventsFor(id).some((e) => e.body.state === 'SUCCESS')), 'all SUCCESS after recovery', { timeoutMs: 60_000, wakeOn: client.onMessage })
    expect(await parked()).toBe(false)
    expect(webhookReceived.size).toBe(ids.length)
    const final = client.eventsFor(ids[0]).at(-1)!.body
    expect(final.recipients).toEqual([
      { label: 'steady', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
      { label: 'partner', status: 'SUCCESS', ackRequired: false, blockingRequired: false },
    ])
  })

  it('holds the deliveries of a recipient parked by an operator until it is un-parked', async () => {
    const { rows } = await sql<{ id: number }>`select id from plugin_configuration where business_id = 'partner'`.execute(herald.ctx.db)
    await parkRecipient(herald.ctx.db, { id: rows[0].id, tenant: TENANT }, 'maintenance window')
    const id = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId: id, owner: 'me', body: { payload: { id }, metadata: {} } })
    await waitFor(() => queueReceived.some((m) => JSON.parse((m.body as Buffer).toString()).payload.id === id), 'steady delivery', { timeoutMs: 15_000, wakeOn: client.onMessage })
    await new Promise((r) => setTimeout(r, 1500))
    expect(webhookReceived.has(id)).toBe(false)
    expect(client.eventsFor(id).map((e) => e.body.state)).toEqual(['GRANTED'])
    expect(await unparkRecipient(herald.ctx.db, rows[0].id)).toBe(true)
    await waitFor(() => client.eventsFor(id).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS after un-park', { timeoutMs: 15_000, wakeOn: client.onMessage })
    expect(webhookReceived.has(id)).toBe(true)
  })

  it('sends no faster than the recipient rate limit', async () => {
    const ids = Array.from({ length: 120 }, () => randomUUID())
    for (const id of ids) await client.publishRequest({ tenant: TENANT, requestId: id, owner: 'me', body: { payload: { id, limited: true }, metadata: {} } })
    await waitFor(() => ids.every((id) => client.eventsFor(id).some((e) => e.body.state === 'SUCCESS')), 'all SUCCESS', { timeoutMs: 30_000, wakeOn: client.onMessage })
    expect(limitedAt).toHaveLength(120)
    // 40/s with a bucket of 40: the first 40 at once, the other 80 over at least 2 s.
    const spanMs = limitedAt.at(-1)! - limitedAt[0]
    expect(spanMs).toBeGreaterThanOrEqual(1800)
  })
})
