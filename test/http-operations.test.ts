import { Writable } from 'node:stream'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Ctx } from '../src/context.ts'
import { insertDeadLetter } from '../src/dead-letters/store.ts'
import { createHttpServer } from '../src/http/server.ts'
import { startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'

for (const backend of BACKENDS) {
  describe(`${backend}: OpenAPI, docs page, health, metrics, request ids and logs`, () => {
    let f: HttpFixture
    beforeAll(async () => {
      f = await startHttpFixture(backend)
    })
    afterAll(async () => {
      await f?.close()
    })

    it('serves an OpenAPI 3.1 document generated from the routes, every operation secured, tagged and answered', async () => {
      const r = await f.call('GET', '/api/v1/openapi.json', { as: null })
      expect(r.statusCode).toBe(200)
      const spec = r.json()
      expect(spec.openapi).toBe('3.1.0')
      expect(spec.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      expect(spec.info.description).toContain('HERALD_ERR_TOKEN_INVALID')
      const operations = Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })))
      expect(operations.length).toBeGreaterThanOrEqual(30)
      for (const { path, method, op } of operations) {
        expect([path, method, typeof op.summary]).toEqual([path, method, 'string'])
        expect(op.tags?.length).toBe(1)
        // The console's sign-in is the one API operation taken without a token: it is how a token is obtained.
        if (path.startsWith('/api/v1/') && path !== '/api/v1/console/sign-in') {
          expect(op.security).toBeUndefined() // the document-wide bearer requirement applies
          expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403']))
        } else {
          expect([path, op.security]).toEqual([path, []])
        }
      }
      expect(spec.paths['/api/v1/openapi.json']).toBeUndefined()
      expect(spec.paths['/api/v1/recipients/{businessId}'].put.requestBody.content['application/json'].schema.additionalProperties).toBe(false)
    })

    it('serves a self-contained interactive page (nothing loaded from elsewhere)', async () => {
      const r = await f.call('GET', '/api/v1/docs', { as: null })
      expect(r.statusCode).toBe(200)
      expect(r.headers['content-type']).toMatch(/^text\/html/)
      expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/)
      expect(r.body).toContain('/api/v1/openapi.json')
      expect(r.body).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/|@import|url\(/)
      expect(r.body).not.toContain('innerHTML')
    })

    it('answers health without a token', async () => {
      expect((await f.call('GET', '/health/live', { as: null })).json()).toEqual({ status: 'UP' })
      const ready = await f.call('GET', '/health/ready', { as: null })
      expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'UP', checks: { database: true, broker: true, consumers: true } }])
    })

    it('computes backlog, oldest waiting age, outbox lag and DLQ depth from the database at each scrape', async () => {
      const db = f.herald.ctx.db
      expect((await f.call('POST', '/api/v1/recipients', { body: { businessId: 'm1', pluginId: 'RabbitMQSender', label: 'm1', parameters: [{ name: 'exchange', value: 'ext.m1' }], active: false } })).statusCode).toBe(201)
      const { rows } = await sql<{ id: number }>`insert into notification_request (tenant, request_id, request_date, not_before, mode, state, payload, metadata)
        values ('project1', 'metrics-1', now() - interval '2 minutes', now(), 'RULES', 'SCHEDULED', '{}', '{}') returning id`.execute(db)
      await sql`insert into delivery (tenant, request_pk, recipient_id, state, request_date)
        select 'project1', ${rows[0].id}, id, 'PENDING', now() - interval '2 minutes' from plugin_configuration where business_id = 'm1'`.execute(db)
      // An outbox row the relay cannot publish (no such exchange is fine: it is read before it is sent).
      await sql`insert into outbox (exchange, headers, body, created_at) values ('metrics.none', '{}', '{}', now() - interval '10 minutes')`.execute(db)
      await insertDeadLetter(db, { tenant: 'project1', dlq: 'q.DLQ', queue: 'q', exchange: '', routingKey: '', reason: null, headers: {}, properties: {}, body: Buffer.from('x'), deadLetteredAt: null })
      const text = (await f.call('GET', '/metrics', { as: null })).body
      const value = (line: RegExp) => Number(text.split('\n').find((l) => line.test(l))?.split(' ').pop())
      expect(value(/^herald_recipient_backlog\{tenant="project1",recipient="m1"\}/)).toBe(1)
      expect(value(/^herald_recipient_oldest_waiting_seconds\{tenant="project1",recipient="m1"\}/)).toBeGreaterThanOrEqual(119)
      expect(value(/^herald_dead_letters\{tenant="project1",queue="q"\}/)).toBe(1)
      expect(text).toMatch(/^herald_outbox_rows \d+$/m)
      expect(text).toMatch(/^herald_outbox_oldest_seconds [\d.e+]+$/m)
      expect(text).toContain('process_cpu_user_seconds_total')
    })

    it('echoes a well-formed x-request-id and generates one otherwise', async () => {
      expect((await f.call('GET', '/health/live', { as: null, headers: { 'x-request-id': 'abc-123' } })).headers['x-request-id']).toBe('abc-123')
      const generated = (await f.call('GET', '/health/live', { as: null, headers: { 'x-request-id': 'bad id\nwith newline' } })).headers['x-request-id']
      expect(generated).toMatch(/^[0-9a-f-]{36}$/)
    })

    it('writes one JSON log line per request with its request id, and the tenant once authenticated', async () => {
      const lines: any[] = []
      const sink = new Writable({
        write(chunk, _enc, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
          done()
        },
      })
      const ctx: Ctx = { ...f.herald.ctx, log: pino({ level: 'info' }, sink) }
      const app = await createHttpServer(ctx, { metrics: new Registry(), consuming: () => true, tokenKeys: f.keys })
      try {
        const token = f.token('project1', 'EXPLOIT')
        await app.inject({ method: 'GET', url: '/api/v1/rules', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-log-1' } })
        await app.inject({ method: 'GET', url: '/api/v1/rules', headers: { 'x-request-id': 'req-log-2' } })
        await new Promise((r) => setTimeout(r, 50))
        const first = lines.filter((l) => l.reqId === 'req-log-1')
        expect(first).toEqual([expect.objectContaining({ module: 'http', tenant: 'project1', role: 'EXPLOIT', method: 'GET', url: '/api/v1/rules', statusCode: 200, msg: 'request completed' })])
        expect(lines.filter((l) => l.reqId === 'req-log-2')).toEqual([expect.objectContaining({ statusCode: 401 })])
        expect(JSON.stringify(lines)).not.toContain(token)
      } finally {
        await app.close()
      }
    })
  })
}
