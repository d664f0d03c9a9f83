import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { param, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { cliEnv, runHerald } from './support/cli.ts'


describe('postgres: testing a recipient sends one product through its real sender and records nothing', () => {
  let f: HttpFixture
  let server: http.Server
  let url: string
  const received: { path: string; body: any }[] = []
  let status = 204

  const recipient = (businessId: string, pluginId: string, parameters: Record<string, unknown>) =>
    f.call('POST', '/api/v1/recipients', { body: { businessId, pluginId, label: businessId, parameters: Object.entries(parameters).map(([k, v]) => param(k, v)) } })
  const test = (businessId: string, body?: unknown, as: [string, string] = ['project1', 'ADMIN']) => f.call('POST', `/api/v1/recipients/${businessId}/test`, { body, as })

  beforeAll(async () => {
    // Loopback receivers are allowed explicitly, as an operator allows an internal network.
    f = await startHttpFixture('postgres', { env: { HERALD_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' } })
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
        res.writeHead(status).end(status === 204 ? undefined : 'try later')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    expect((await recipient('hook', 'WebhookSender', { url, allowPrivateNetwork: true, recipientLabel: 'hook' })).statusCode).toBe(201)
    expect((await recipient('unbound', 'RabbitMQSender', { exchange: 'ext.test-unbound' })).statusCode).toBe(201)
    expect((await recipient('queued', 'RabbitMQSender', { exchange: 'ext.test-queued', queueName: 'ext.test-queued.q' })).statusCode).toBe(201)
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await f?.close()
  })

  it('delivers the built-in sample, or the given product, and answers the receiver\'s status and the latency', async () => {
    const ok = await test('hook')
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toEqual({ businessId: 'hook', pluginId: 'WebhookSender', delivered: true, answer: 'HTTP 204', latencyMs: expect.any(Number), sample: 'built-in' })
    expect(received.at(-1)!.body.payload).toMatchObject({ type: 'Feature', id: 'herald-test-product', urn: expect.stringMatching(/^URN:FEATURE:DATA:project1:/) })

    status = 503
    const failed = (await test('hook', { payload: { id: 'mine' }, metadata: { action: 'TEST' } })).json()
    expect(failed).toEqual({
      businessId: 'hook',
      pluginId: 'WebhookSender',
      delivered: false,
      latencyMs: expect.any(Number),
      errorClass: 'HTTP_503',
      message: expect.stringMatching(/answered HTTP 503: try later/),
      permanent: false,
      sample: 'given',
    })
    expect(received.at(-1)!.body).toMatchObject({ payload: { id: 'mine' }, metadata: { action: 'TEST' } })
    status = 204

    // Nothing recorded: no request, no delivery, no attempt.
    for (const table of ['notification_request', 'delivery', 'delivery_attempt']) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(f.herald.ctx.db)
      expect([table, rows[0].n]).toEqual([table, 0])
    }
  })

  it('answers the broker\'s confirm, or why it did not route the message', async () => {
    expect((await test('queued')).json()).toMatchObject({ delivered: true, answer: 'confirmed by the broker' })
    expect((await test('unbound')).json()).toMatchObject({ delivered: false, errorClass: 'AMQP_UNROUTABLE', permanent: false })
  })

  it('is for ADMIN only, 404 for an unknown recipient, 400 for a body that is not a product', async () => {
    expect((await test('hook', undefined, ['project1', 'EXPLOIT'])).statusCode).toBe(403)
    expect((await test('ghost')).json()).toMatchObject({ status: 404, code: 'HERALD_ERR_NOT_FOUND' })
    expect((await test('hook', { payload: 'x' })).statusCode).toBe(400)
    expect((await test('hook', { product: {} })).statusCode).toBe(400)
  })

  it('herald recipients test answers the same', async () => {
    const env = cliEnv(f.storage, f.vhost.url, { HERALD_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8' })
    const delivered = await runHerald(['recipients', 'test', '--tenant', 'project1', '--json', 'hook'], { env })
    expect(delivered.code).toBe(0)
    expect(JSON.parse(delivered.stdout)).toEqual({ businessId: 'hook', pluginId: 'WebhookSender', delivered: true, answer: 'HTTP 204', latencyMs: expect.any(Number), sample: 'built-in' })
    const failed = await runHerald(['recipients', 'test', '--tenant', 'project1', 'unbound'], { env })
    expect([failed.code, failed.stdout]).toEqual([1, expect.stringMatching(/^recipient unbound \(RabbitMQSender\): NOT delivered: AMQP_UNROUTABLE .* in [\d.]+ ms, built-in sample product/)])
  // Two CLI runs from the sources: up to ~35 s each on this loaded 2-core machine.
  }, 180_000)
})
