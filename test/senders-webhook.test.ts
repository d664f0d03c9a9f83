import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import type { DeliveryItem, Parameters as SenderParams, Sender, SenderContext } from '../src/senders/sender.ts'
import { retryAfterMs, webhookSender } from '../src/senders/webhook-sender.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { deliveryItem, testSenderContext } from './support/sender-rig.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const ctx = testSenderContext()

const item = (over: Partial<DeliveryItem> = {}): DeliveryItem =>
  deliveryItem({
    tenant: TENANT,
    requestDate: new Date('2026-11-22T10:00:00.000Z'),
    payload: { type: 'Feature', id: 'product-1', urn: `URN:FEATURE:DATA:${TENANT}:${randomUUID()}:V3`, properties: { type: 'L2' } },
    ...over,
  })

interface Received {
  headers: http.IncomingHttpHeaders
  body: string
}

/** A receiver on 127.0.0.1:0 that answers with `handler` and records every request. */
async function receiver(handler: (req: Received, res: http.ServerResponse, index: number) => unknown) {
  const requests: Received[] = []
  let connections = 0
  let inFlight = 0
  let maxInFlight = 0
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      const index = requests.push(received) - 1
      maxInFlight = Math.max(maxInFlight, ++inFlight)
      res.on('close', () => inFlight--)
      await handler(received, res, index)
    })
  })
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    requests,
    stats: () => ({ connections, maxInFlight }),
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Standard Webhooks verification written from the specification, independently of the sender. */
function verify(headers: http.IncomingHttpHeaders, body: string, secret: string): boolean {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret)
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`
  const expected = createHmac('sha256', key).update(signed).digest()
  return String(headers['webhook-signature'] ?? '')
    .split(' ')
    .map((s) => s.split(','))
    .some(([version, sig]) => version === 'v1' && sig !== undefined && Buffer.from(sig, 'base64').length === expected.length && timingSafeEqual(Buffer.from(sig, 'base64'), expected))
}

const senders: Sender[] = []
const servers: { close(): Promise<void> }[] = []
function sender(params: SenderParams): Sender {
  expect(webhookSender.validate(params)).toEqual([])
  const s = webhookSender.create(params, ctx)
  senders.push(s)
  return s
}
async function server(handler: Parameters<typeof receiver>[0]) {
  const s = await receiver(handler)
  servers.push(s)
  return s
}

afterEach(async () => {
  for (const s of senders.splice(0)) await s.close?.()
  for (const s of servers.splice(0)) await s.close()
})

describe('WebhookSender', () => {
  it('POSTs the notification signed per Standard Webhooks, one signature per secret', async () => {
    const srv = await server((_, res) => res.writeHead(204).end())
    const oldSecret = `whsec_${Buffer.from('an old key of twenty-four bytes!').toString('base64')}`
    const newSecret = 'a plain utf-8 secret'
    const s = sender({ url: srv.url, allowPrivateNetwork: true, secrets: JSON.stringify([oldSecret, newSecret]) })
    const it1 = item()
    const before = Math.floor(Date.now() / 1000)
    expect(await s.send([it1])).toMatchObject([{ ok: true }])
    const [req] = srv.requests
    expect(req.headers['webhook-id']).toBe(`herald-${it1.deliveryId}`)
    expect(Number(req.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(before)
    expect(Number(req.headers['webhook-timestamp'])).toBeLessThanOrEqual(before + 5)
    expect(String(req.headers['webhook-signature']).split(' ')).toHaveLength(2)
    expect(verify(req.headers, req.body, oldSecret)).toBe(true)
    expect(verify(req.headers, req.body, newSecret)).toBe(true)
    expect(verify(req.headers, req.body, 'whsec_' + Buffer.from('another key').toString('base64'))).toBe(false)
    expect(verify(req.headers, req.body.replace('CREATED', 'DELETED'), newSecret)).toBe(false)
    expect(req.headers['content-type']).toBe('application/json')
    expect(JSON.parse(req.body)).toEqual({
      requestId: it1.requestId,
      requestOwner: 'rs-fem',
      requestDate: '2026-11-22T10:00:00.000Z',
      payload: it1.payload,
      metadata: it1.metadata,
    })
  })

  it('keeps webhook-id across attempts of one delivery and accepts a comma-separated secret list', async () => {
    const srv = await server((_, res) => res.writeHead(200).end('ok'))
    const s = sender({ url: srv.url, allowPrivateNetwork: true, secrets: 'first-secret, second-secret' })
    const first = item()
    await s.send([first])
    await s.send([{ ...first, attempt: 2 }])
    expect(srv.requests.map((r) => r.headers['webhook-id'])).toEqual([`herald-${first.deliveryId}`, `herald-${first.deliveryId}`])
    for (const r of srv.requests) {
      expect(verify(r.headers, r.body, 'first-secret')).toBe(true)
      expect(verify(r.headers, r.body, 'second-secret')).toBe(true)
    }
  })

  it('sends a CloudEvents 1.0 structured body with bodyTemplate=cloudevents', async () => {
    const srv = await server((_, res) => res.writeHead(202).end())
    const s = sender({ url: srv.url, allowPrivateNetwork: true, bodyTemplate: 'cloudevents' })
    const it1 = item()
    expect(await s.send([it1])).toMatchObject([{ ok: true }])
    const [req] = srv.requests
    expect(req.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8')
    expect(req.headers['webhook-signature']).toBeUndefined()
    expect(JSON.parse(req.body)).toEqual({
      specversion: '1.0',
      id: `herald-${it1.deliveryId}`,
      source: `herald/${TENANT}`,
      type: 'fr.cnes.regards.notification',
      subject: it1.payload.urn,
      time: '2026-11-22T10:00:00.000Z',
      datacontenttype: 'application/json',
      requestid: it1.requestId,
      data: { payload: it1.payload, metadata: it1.metadata },
    })
  })

  it('maps a GeoJSON feature to a CNM message with bodyTemplate=cnm', async () => {
    const srv = await server((_, res) => res.writeHead(200).end())
    const s = sender({ url: srv.url, allowPrivateNetwork: true, bodyTemplate: 'cnm', cnmProvider: 'CNES' })
    const feature = item({
      payload: {
        type: 'Feature',
        id: 'SWOT_L2_001',
        model: 'SWOT_L2',
        urn: `URN:FEATURE:DATA:${TENANT}:${randomUUID()}:V3`,
        files: [
          { locations: [{ url: 'https://data.example/a.nc', storage: 's3' }], attributes: { dataType: 'RAWDATA', filename: 'a.nc', algorithm: 'MD5', checksum: 'abc', filesize: 100, mimeType: 'application/x-netcdf' } },
          { locations: [{ url: 'https://data.example/a.png' }], attributes: { dataType: 'QUICKLOOK_SD', filename: 'a.png', algorithm: 'SHA-256', checksum: 'def', filesize: 7 } },
        ],
      },
    })
    const noModel = item({ payload: { id: 'x' } })
    const results = await s.send([feature, noModel])
    expect(results[0]).toMatchObject({ ok: true })
    expect(results[1]).toMatchObject({ ok: false, permanent: true, errorClass: 'WEBHOOK_BODY' })
    expect(srv.requests).toHaveLength(1)
    expect(JSON.parse(srv.requests[0].body)).toEqual({
      version: '1.6.0',
      provider: 'CNES',
      collection: 'SWOT_L2',
      identifier: feature.requestId,
      submissionTime: '2026-11-22T10:00:00.000Z',
      product: {
        name: 'SWOT_L2_001',
        dataVersion: '3',
        files: [
          { type: 'data', uri: 'https://data.example/a.nc', name: 'a.nc', checksumType: 'md5', checksum: 'abc', size: 100 },
          { type: 'browse', uri: 'https://data.example/a.png', name: 'a.png', checksumType: 'sha256', checksum: 'def', size: 7 },
        ],
      },
    })
  })

  it('classifies answers: 410 permanent with an excerpt, 503 and 429 retryable with Retry-After, 408 retryable', async () => {
    const long = 'x'.repeat(5000)
    const answers: [number, Record<string, string>, string][] = [
      [410, {}, `gone for good ${long}`],
      [503, { 'retry-after': '7' }, 'busy'],
      [429, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }, ''],
      [408, {}, ''],
      [400, {}, '{"error":"bad product"}'],
    ]
    const srv = await server((req, res) => {
      const [status, headers, body] = answers[Number(JSON.parse(req.body).metadata.n)]
      res.writeHead(status, headers).end(body)
    })
    const s = sender({ url: srv.url, allowPrivateNetwork: true })
    const results = await s.send(answers.map((_, n) => item({ metadata: { n } })))
    expect(results[0]).toMatchObject({ ok: false, permanent: true, errorClass: 'HTTP_410' })
    const gone = results[0] as { message: string }
    expect(gone.message).toContain('HTTP 410: gone for good xxx')
    expect(gone.message.length).toBeLessThan(700)
    expect(results[1]).toEqual({ ok: false, permanent: false, errorClass: 'HTTP_503', message: `${srv.url} answered HTTP 503: busy`, retryAfterMs: 7000 })
    expect(results[2]).toMatchObject({ ok: false, permanent: false, errorClass: 'HTTP_429' })
    expect((results[2] as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(25_000)
    expect((results[2] as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(30_000)
    expect(results[3]).toMatchObject({ ok: false, permanent: false, errorClass: 'HTTP_408' })
    expect(results[4]).toMatchObject({ ok: false, permanent: true, errorClass: 'HTTP_400', message: `${srv.url} answered HTTP 400: {"error":"bad product"}` })
  })

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-22T10:00:00Z')
    expect(retryAfterMs('120', now)).toBe(120_000)
    expect(retryAfterMs('Sun, 22 Nov 2026 10:00:30 GMT', now)).toBe(30_000)
    expect(retryAfterMs('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0)
    expect(retryAfterMs('soon', now)).toBeUndefined()
    expect(retryAfterMs(undefined, now)).toBeUndefined()
  })

  it('gives up on a receiver that does not answer within timeoutMs (retryable)', async () => {
    const srv = await server(() => {
      // never answers
    })
    const s = sender({ url: srv.url, allowPrivateNetwork: true, timeoutMs: 300 })
    const started = Date.now()
    const [result] = await s.send([item()])
    expect(result).toEqual({ ok: false, permanent: false, errorClass: 'HTTP_TIMEOUT', message: `no answer from ${srv.url} within 300 ms` })
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('treats a refused connection as a retryable network error', async () => {
    const srv = await server((_, res) => res.end())
    const url = srv.url
    await srv.close()
    servers.pop()
    const [result] = await sender({ url, allowPrivateNetwork: true }).send([item()])
    expect(result).toMatchObject({ ok: false, permanent: false, errorClass: 'HTTP_NETWORK' })
    expect((result as { message: string }).message).toContain('ECONNREFUSED')
  })

  it('does not follow redirects: a 3xx is permanent and names the Location', async () => {
    const srv = await server((_, res) => res.writeHead(301, { location: 'https://elsewhere.example/hook' }).end())
    const [result] = await sender({ url: srv.url, allowPrivateNetwork: true }).send([item()])
    expect(result).toMatchObject({ ok: false, permanent: true, errorClass: 'HTTP_REDIRECT' })
    expect((result as { message: string }).message).toContain('https://elsewhere.example/hook')
    expect(srv.requests).toHaveLength(1)
  })

  it('refuses loopback destinations unless allowPrivateNetwork=true (test/outbound-network.test.ts covers the rest)', async () => {
    const srv = await server((_, res) => res.writeHead(200).end())
    for (const url of [srv.url, `http://localhost:${srv.port}/hook`, `http://[::1]:${srv.port}/hook`, `http://[::ffff:127.0.0.1]:${srv.port}/hook`]) {
      const [result] = await sender({ url }).send([item()])
      expect(result).toMatchObject({ ok: false, permanent: true, errorClass: 'HTTP_DESTINATION_REFUSED' })
      expect((result as { message: string }).message).toMatch(/is not a public address; set allowPrivateNetwork=true/)
    }
    expect(srv.requests).toHaveLength(0)
    expect(await sender({ url: `http://localhost:${srv.port}/hook`, allowPrivateNetwork: 'true' }).send([item()])).toMatchObject([{ ok: true }])
  })

  it('sends a batch in parallel, at most 16 at a time, over pooled connections', async () => {
    const srv = await server((_, res) => setTimeout(() => res.writeHead(200).end(), 50))
    const s = sender({ url: srv.url, allowPrivateNetwork: true })
    const started = Date.now()
    const results = await s.send(Array.from({ length: 64 }, () => item()))
    expect(results.every((r) => r.ok)).toBe(true)
    // Sequential would take 64 × 50 ms = 3.2 s.
    expect(Date.now() - started).toBeLessThan(1500)
    expect(srv.stats().maxInFlight).toBeLessThanOrEqual(16)
    expect(srv.stats().maxInFlight).toBeGreaterThan(4)
    // The pool holds 16 sockets per batch in flight (maxBatchesInFlight, 2 by default).
    expect(srv.stats().connections).toBeLessThanOrEqual(32)
    await s.send(Array.from({ length: 16 }, () => item()))
    expect(srv.stats().connections).toBeLessThanOrEqual(32)
  })

  it('validates its parameters without ever quoting a secret', () => {
    const v = webhookSender.validate
    expect(v({})).toContain('parameter url is mandatory')
    expect(v({ url: 'ftp://host/x' })).toContain('parameter url must be an http:// or https:// URL, got "ftp://host/x"')
    expect(v({ url: 'not a url' })).toContain('parameter url must be an http:// or https:// URL, got "not a url"')
    expect(v({ url: 'https://h.example', timeoutMs: 'soon' })).toEqual(['parameter timeoutMs must be an INTEGER (a whole number), got "soon"'])
    expect(v({ url: 'https://h.example', timeoutMs: 60_001 })).toEqual([expect.stringMatching(/^parameter timeoutMs must be between 1 and 60000/)])
    expect(v({ url: 'https://h.example', timeoutMs: '60000' })).toEqual([])
    expect(v({ url: 'https://h.example', bodyTemplate: 'xml' })).toEqual(['parameter bodyTemplate must be one of "default", "cloudevents", "cnm", got "xml"'])
    const bad = v({ url: 'https://h.example', secrets: 'ok-secret,whsec_not*base64!' })
    expect(bad).toEqual(['parameter secrets: entry 2 starts with whsec_ but is not valid base64'])
    expect(bad.join()).not.toContain('ok-secret')
    expect(v({ url: 'https://h.example', secrets: '[not json' })).toEqual(['parameter secrets: starts with "[" but is not a JSON array'])
    expect(v({ url: 'https://h.example', secrets: ' , ' })).toEqual(['parameter secrets is set but lists no secret'])
    expect(v({ url: 'https://h.example', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] })).toEqual([])
    expect(v({ url: 'https://h.example', blockingRequired: true })).toHaveLength(1)
    expect(webhookSender.describe({ url: 'https://h.example', recipientLabel: 'hook', ackRequired: true })).toEqual({
      recipientLabel: 'hook',
      ackRequired: true,
      blockingRequired: false,
      directNotificationEnabled: false,
      description: 'Webhook sender',
    })
  })

  it('fails every item permanently when built from a configuration that does not validate', async () => {
    const s = webhookSender.create({ url: 'nope', secrets: 'whsec_!!' }, ctx)
    expect(await s.send([item(), item()])).toEqual(
      Array(2).fill({
        ok: false,
        permanent: true,
        errorClass: 'CONFIGURATION',
        message: 'recipient configuration is invalid: parameter url must be an http:// or https:// URL, got "nope"; parameter secrets: entry 1 starts with whsec_ but is not valid base64',
      }),
    )
  })
})

describe('postgres: WebhookSender end to end through the notifier', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  let srv: Awaited<ReturnType<typeof receiver>>
  const attemptsSeen: { deliveryId: number; rows: { attempt: number; outcome: string; error_class: string }[] }[] = []
  const plan = new Map<string, (number | [number, Record<string, string>])[]>()
  const callTimes = new Map<string, number[]>()

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url })
    srv = await receiver(async (req, res) => {
      const { payload } = JSON.parse(req.body)
      callTimes.set(payload.id, [...(callTimes.get(payload.id) ?? []), Date.now()])
      const statuses = plan.get(payload.id) ?? [200]
      const next = statuses.length > 1 ? statuses.shift()! : statuses[0]
      const [status, headers] = typeof next === 'number' ? [next, {}] : next
      if (status === 200) {
        // Before confirming, read what Herald recorded about the earlier attempts of this delivery.
        const deliveryId = Number(String(req.headers['webhook-id']).replace('herald-', ''))
        const { rows } = await sql<{ attempt: number; outcome: string; error_class: string }>`
          select attempt, outcome, error_class from delivery_attempt where delivery_id = ${deliveryId} order by attempt`.execute(herald.ctx.db)
        attemptsSeen.push({ deliveryId, rows })
      }
      res.writeHead(status, headers).end(status === 410 ? 'this hook was removed' : '')
    })
    await importConfig(herald, TENANT, [
      pluginConf('WebhookSender', 'hook', {
        url: srv.url,
        allowPrivateNetwork: true,
        secrets: 'e2e-secret',
        recipientLabel: 'webhook-system',
        ackRequired: true,
        maxAttempts: 5,
        retryInitialDelayMs: 50,
        retryMaxDelayMs: 200,
      }),
      pluginConf('LuceneRuleMatcher', 'all-created', { metadata_rule: 'action:CREATED', payload_rule: 'type:Feature' }),
      association('all-created', ['hook']),
    ])
    client = new RegardsClient(vhost.url)
    await client.listenToEvents()
  })

  afterAll(async () => {
    await client?.close()
    await herald?.stop()
    await srv?.close()
    await storage?.drop()
    await vhost?.drop()
  })

  const publish = async (id: string) => {
    const requestId = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload: { type: 'Feature', id, properties: {} }, metadata: { action: 'CREATED' } } })
    await waitFor(() => client.eventsFor(requestId).some((e) => ['SUCCESS', 'ERROR'].includes(e.body.state)), `completion of ${id}`, { timeoutMs: 20_000, wakeOn: client.onMessage })
    return client.eventsFor(requestId).at(-1)!.body
  }

  it('retries 500 three times, delivers on the fourth attempt with the same webhook-id, then SUCCESS', async () => {
    plan.set('flaky', [500, 500, 500, 200])
    const event = await publish('flaky')
    expect(event.state).toBe('SUCCESS')
    expect(event.recipients).toEqual([{ label: 'webhook-system', status: 'SUCCESS', ackRequired: true, blockingRequired: false }])
    const calls = srv.requests.filter((r) => JSON.parse(r.body).payload.id === 'flaky')
    expect(calls).toHaveLength(4)
    expect(new Set(calls.map((c) => c.headers['webhook-id'])).size).toBe(1)
    for (const c of calls) expect(verify(c.headers, c.body, 'e2e-secret')).toBe(true)
    const seen = attemptsSeen.find((a) => `herald-${a.deliveryId}` === calls[0].headers['webhook-id'])!
    expect(seen.rows).toEqual([
      { attempt: 1, outcome: 'PENDING', error_class: 'HTTP_500' },
      { attempt: 2, outcome: 'PENDING', error_class: 'HTTP_500' },
      { attempt: 3, outcome: 'PENDING', error_class: 'HTTP_500' },
    ])
  })

  it('waits at least the Retry-After of a 503 before the next attempt', async () => {
    plan.set('throttled', [[503, { 'retry-after': '2' }], 200])
    const event = await publish('throttled')
    expect(event.state).toBe('SUCCESS')
    const [first, second] = callTimes.get('throttled')!
    // The policy alone would retry after 50 ms ± 25 %.
    expect(second - first).toBeGreaterThanOrEqual(1900)
  })

  it('reports ERROR at once for a 410, without retrying', async () => {
    plan.set('gone', [410])
    const event = await publish('gone')
    expect(event.state).toBe('ERROR')
    expect(event.recipients).toEqual([{ label: 'webhook-system', status: 'ERROR', ackRequired: true, blockingRequired: false }])
    expect(srv.requests.filter((r) => JSON.parse(r.body).payload.id === 'gone')).toHaveLength(1)
    const { rows } = await sql<{ error_class: string; message: string; outcome: string }>`
      select a.error_class, a.message, a.outcome from delivery_attempt a join delivery d on d.id = a.delivery_id
      join notification_request r on r.id = d.request_pk where r.payload->>'id' = 'gone'`.execute(herald.ctx.db)
    expect(rows).toEqual([{ error_class: 'HTTP_410', outcome: 'ERROR', message: `${srv.url} answered HTTP 410: this hook was removed` }])
  })
})
