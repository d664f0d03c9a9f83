import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../src/http/auth.ts'
import { insertDeadLetter } from '../src/dead-letters/store.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { luceneRule, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { waitFor } from './support/wait-for.ts'

const METRICS_TOKEN = 'metrics-token-of-the-operator'
const RATE_LIMIT = 5

for (const backend of BACKENDS) {
  describe(`${backend}: limits that keep one client from hurting the rest`, () => {
    let f: HttpFixture
    const get = (url: string, opts: { token?: string | null; address?: string; headers?: Record<string, string> } = {}) =>
      f.app.inject({
        method: 'GET',
        url,
        remoteAddress: opts.address ?? '127.0.0.1',
        headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
      })
    const tokenOf = (tenant: string, sub: string) => signToken(f.keys.hs256, { tenant, role: 'EXPLOIT', sub }, 3600)
    const scrape = async () => (await get('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).body
    const metric = (text: string, line: string) => Number(text.split('\n').find((l) => l.startsWith(`${line} `))?.split(' ').pop() ?? NaN)

    beforeAll(async () => {
      f = await startHttpFixture(backend, { env: { HERALD_API_RATE_LIMIT: String(RATE_LIMIT), HERALD_METRICS_TOKEN: METRICS_TOKEN } })
    })
    afterAll(async () => {
      await f?.close()
    })

    it('limits each token to HERALD_API_RATE_LIMIT requests a minute: 429 with Retry-After, other tokens unaffected', async () => {
      const alice = tokenOf('rl-a', 'alice')
      for (let i = 0; i < RATE_LIMIT; i++) {
        const r = await get('/api/v1/rules', { token: alice })
        expect([r.statusCode, r.headers['x-ratelimit-limit'], r.headers['x-ratelimit-remaining']]).toEqual([200, String(RATE_LIMIT), String(RATE_LIMIT - 1 - i)])
      }
      const limited = await get('/api/v1/rules', { token: alice })
      expect([limited.statusCode, limited.json().code]).toEqual([429, 'HERALD_ERR_RATE_LIMITED'])
      expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60)
      expect(limited.json().detail).toMatch(/this token \(HERALD_API_RATE_LIMIT\)/)
      // A fresh token of the same subject and tenant shares the budget; another subject or tenant has its own.
      expect((await get('/api/v1/rules', { token: tokenOf('rl-a', 'alice') })).statusCode).toBe(429)
      expect((await get('/api/v1/rules', { token: tokenOf('rl-a', 'bob') })).statusCode).toBe(200)
      expect((await get('/api/v1/rules', { token: tokenOf('rl-b', 'alice') })).statusCode).toBe(200)
    })

    it('limits requests without a valid token per client address, and never health or metrics', async () => {
      for (let i = 0; i < RATE_LIMIT; i++) expect((await get('/api/v1/rules', { address: '10.0.0.1' })).statusCode).toBe(401)
      const limited = await get('/api/v1/rules', { address: '10.0.0.1' })
      expect([limited.statusCode, limited.json().detail]).toEqual([429, expect.stringMatching(/this address without a valid token/)])
      expect((await get('/api/v1/rules', { address: '10.0.0.1', token: 'not-a-token' })).statusCode).toBe(429)
      expect((await get('/api/v1/rules', { address: '10.0.0.2' })).statusCode).toBe(401)
      // A valid token from the same address is counted as itself.
      expect((await get('/api/v1/rules', { address: '10.0.0.1', token: tokenOf('rl-c', 'carol') })).statusCode).toBe(200)
      for (let i = 0; i < 3 * RATE_LIMIT; i++) {
        expect((await get('/health/live', { address: '10.0.0.1' })).statusCode).toBe(200)
        expect((await get('/metrics', { address: '10.0.0.1', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).statusCode).toBe(200)
      }
    })

    it('serves /metrics only to the bearer of HERALD_METRICS_TOKEN', async () => {
      const none = await get('/metrics')
      expect([none.statusCode, none.json().code, none.headers['www-authenticate']]).toEqual([401, 'HERALD_ERR_UNAUTHENTICATED', expect.stringMatching(/^Bearer/)])
      for (const wrong of ['Bearer metrics-token-of-the-operatoR', `Bearer ${METRICS_TOKEN}x`, `Bearer ${tokenOf('rl-a', 'alice')}`, METRICS_TOKEN]) {
        const r = await get('/metrics', { headers: { authorization: wrong } })
        expect([wrong, r.statusCode, r.json().code]).toEqual([wrong, 401, 'HERALD_ERR_TOKEN_INVALID'])
        expect(r.body).not.toContain('herald_')
      }
      expect(await scrape()).toContain('herald_requests_received_total')
    })

    it('sends security headers on every answer (helmet), and the docs page keeps its own policy', async () => {
      for (const [url, status] of [['/health/live', 200], ['/api/v1/rules', 401], ['/nowhere', 404], ['/api/v1/openapi.json', 200]] as const) {
        const r = await get(url, { address: '10.0.0.3' })
        expect([url, r.statusCode]).toEqual([url, status])
        expect([url, r.headers['x-content-type-options'], r.headers['x-frame-options'], r.headers['referrer-policy']]).toEqual([url, 'nosniff', 'SAMEORIGIN', 'no-referrer'])
        expect(r.headers['strict-transport-security']).toMatch(/max-age=\d+/)
        expect(r.headers['cross-origin-opener-policy']).toBe('same-origin')
        expect(r.headers['content-security-policy']).toMatch(/default-src 'self'.*frame-ancestors 'self'.*object-src 'none'/)
        expect(r.headers['content-security-policy']).not.toContain('upgrade-insecure-requests')
      }
      const docs = await get('/api/v1/docs')
      expect([docs.headers['content-security-policy'], docs.headers['x-content-type-options']]).toEqual([expect.stringMatching(/^default-src 'none'; script-src 'unsafe-inline'/), 'nosniff'])
    })

    it('answers /health/ready within 2 s while the database is held, then UP again', async () => {
      const db = f.herald.ctx.db
      // PostgreSQL: every connection of the pool (10) busy; PGlite: its one connection held by a transaction.
      const hold =
        backend === 'postgres'
          ? Promise.all(Array.from({ length: 10 }, () => sql`select pg_sleep(4)`.execute(db)))
          : db.transaction().execute(async (tx) => {
              await sql`select 1`.execute(tx)
              await sleep(4000)
            })
      await sleep(300)
      const started = performance.now()
      const ready = await get('/health/ready')
      const ms = performance.now() - started
      expect([ready.statusCode, ready.json()]).toEqual([503, { status: 'DOWN', checks: { database: false, broker: true, consumers: true } }])
      expect(ms).toBeLessThan(2000)
      await hold
      await waitFor(async () => (await get('/health/ready')).statusCode === 200, 'ready again', { timeoutMs: 15_000 })
    })

    it('labels metrics with configured tenants only, counts the others as "other", and forgets their configuration', async () => {
      const tenant = 'labelled'
      for (const [url, body] of [['/api/v1/recipients', rabbitRecipient('lbl')], ['/api/v1/rules', luceneRule('lbl-rule', 'action:CREATED', ['lbl'])]] as const) {
        expect((await f.call('POST', url, { as: [tenant, 'ADMIN'], body })).statusCode).toBe(201)
      }
      await waitFor(() => f.herald.ctx.configCache.isConfigured(tenant), 'the tenant counted as configured', { timeoutMs: 5000 })
      const client = new RegardsClient(f.vhost.url)
      const ghosts = Array.from({ length: 30 }, (_, i) => `ghost-${i}-${randomUUID().slice(0, 8)}`)
      try {
        const body = { payload: { id: 'p' }, metadata: { action: 'CREATED' } }
        await client.publishRequest({ tenant, requestId: randomUUID(), owner: 'o', date: new Date().toISOString(), body })
        for (const ghost of ghosts) await client.publishRequest({ tenant: ghost, requestId: randomUUID(), owner: 'o', date: new Date().toISOString(), body })
        await waitFor(async () => metric(await scrape(), 'herald_requests_received_total{tenant="other"}') === ghosts.length, 'the ghost requests counted', { timeoutMs: 30_000 })
      } finally {
        await client.close()
      }
      await insertDeadLetter(f.herald.ctx.db, { tenant: ghosts[0], dlq: 'q.DLQ', queue: 'q', exchange: '', routingKey: '', reason: null, headers: {}, properties: {}, body: Buffer.from('x'), deadLetteredAt: null })
      await insertDeadLetter(f.herald.ctx.db, { tenant: ghosts[1], dlq: 'q.DLQ', queue: 'q', exchange: '', routingKey: '', reason: null, headers: {}, properties: {}, body: Buffer.from('x'), deadLetteredAt: null })
      const text = await scrape()
      expect(metric(text, `herald_requests_received_total{tenant="${tenant}"}`)).toBe(1)
      expect(metric(text, 'herald_dead_letters{tenant="other",queue="q"}')).toBe(2)
      expect(text).not.toContain('ghost-')
      // The ghosts' (empty) configurations are dropped at the next refresh, every 500 ms.
      await waitFor(async () => metric(await scrape(), 'herald_config_cache_tenants') <= 1, 'the ghost tenants forgotten', { timeoutMs: 5000 })
      expect(f.herald.ctx.configCache.cachedTenants).toBeLessThanOrEqual(1)
    })
  })
}

describe.skipIf(!BACKENDS.includes('postgres'))('postgres: pool limits of a Herald', () => {
  let storage: TestStorage
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let herald: Herald
  const pgCode = (err: unknown) => (err as { code?: string }).code

  beforeAll(async () => {
    storage = await createTestStorage('postgres')
    vhost = await createVhost()
    herald = await startTestHerald({
      storage,
      amqpUrl: vhost.url,
      env: { HERALD_DB_STATEMENT_TIMEOUT_MS: '1000', HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '1000', HERALD_DB_ACQUIRE_TIMEOUT_MS: '300' },
    })
  })
  afterAll(async () => {
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  it('cancels a statement running longer than HERALD_DB_STATEMENT_TIMEOUT_MS', async () => {
    const err = await sql`select pg_sleep(5)`.execute(herald.ctx.db).catch((e: unknown) => e)
    expect(pgCode(err)).toBe('57014')
    expect(String(err)).toMatch(/statement timeout/)
    expect((await sql<{ one: number }>`select 1 as one`.execute(herald.ctx.db)).rows).toEqual([{ one: 1 }])
  })

  it('closes a session left idle inside a transaction longer than HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', async () => {
    const err = await herald.ctx.db
      .transaction()
      .execute(async (tx) => {
        await sql`select 1`.execute(tx)
        await sleep(2000)
        await sql`select 1`.execute(tx)
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(String((err as Error).message)).toMatch(/idle-in-transaction|terminat|connection error/i)
    expect((await sql<{ one: number }>`select 1 as one`.execute(herald.ctx.db)).rows).toEqual([{ one: 1 }])
  })

  it('fails a query that waits longer than HERALD_DB_ACQUIRE_TIMEOUT_MS for a connection of the pool', async () => {
    const busy = Promise.allSettled(Array.from({ length: 10 }, () => sql`select pg_sleep(0.8)`.execute(herald.ctx.db)))
    await sleep(100)
    const err = await sql`select 1`.execute(herald.ctx.db).catch((e: unknown) => e)
    expect(String(err)).toMatch(/timeout exceeded when trying to connect/)
    await busy
    expect((await sql<{ one: number }>`select 1 as one`.execute(herald.ctx.db)).rows).toEqual([{ one: 1 }])
  })
})
