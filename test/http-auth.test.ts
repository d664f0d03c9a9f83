import { createHmac, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.ts'
import { authenticate, checkAccess, loadTokenKeys, resolveJwtSecret, signToken, verifyToken, type TokenKeys } from '../src/http/auth.ts'
import type { Access } from '../src/ops/principal.ts'
import { insertDeadLetter } from '../src/dead-letters/store.ts'
import { HeraldError } from '../src/errors.ts'
import { luceneRule, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'herald-auth-'))

function signAsymmetric(alg: 'RS256' | 'ES256', key: KeyObject, payload: Record<string, unknown>, kid?: string): string {
  const data = `${b64({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64(payload)}`
  const signature = sign('sha256', Buffer.from(data), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key)
  return `${data}.${signature.toString('base64url')}`
}

const codeOf = (r: unknown) => (r instanceof HeraldError ? r.code : 'OK')
const detailOf = (r: unknown) => (r instanceof HeraldError ? r.detail : 'OK')

/** The token settings of a Herald started with `env` on `dataDir`. */
const tokenConfig = (dataDir: string, env: Record<string, string> = {}) => loadConfig({ HERALD_DATA_DIR: dataDir, ...env })

function authorize(keys: TokenKeys, tenants: ReadonlySet<string> | undefined, authorization: string | undefined, access: Access) {
  const principal = authenticate(keys, authorization)
  return principal instanceof HeraldError ? principal : (checkAccess(principal, tenants, access) ?? principal)
}

describe('bearer tokens', () => {
  const dataDir = tmpDir()
  const keys = loadTokenKeys(tokenConfig(dataDir))
  const now = Math.floor(Date.now() / 1000)

  it('generates the HS256 secret once, mode 0600, and reuses it', () => {
    const file = path.join(dataDir, 'jwt-secret')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(resolveJwtSecret({ jwtSecret: undefined, dataDir }).equals(keys.hs256)).toBe(true)
    expect(keys.hs256.length).toBeGreaterThanOrEqual(32)
    const fromEnv = 'from-env-0123456789abcdef0123456789'
    expect(resolveJwtSecret({ jwtSecret: fromEnv, dataDir }).toString()).toBe(fromEnv)
  })

  it('accepts its own HS256 tokens and maps REGARDS administrator roles to ADMIN', () => {
    expect(verifyToken(keys, signToken(keys.hs256, { tenant: 't1', role: 'EXPLOIT' }, 60))).toEqual({ tenant: 't1', role: 'EXPLOIT', subject: 'herald-cli' })
    expect(verifyToken(keys, signToken(keys.hs256, { tenant: 't1', role: 'PROJECT_ADMIN' }, 60))).toMatchObject({ role: 'ADMIN' })
  })

  it('refuses tampered, unsigned, confused, expired, premature and incomplete tokens', () => {
    const good = signToken(keys.hs256, { tenant: 't1', role: 'EXPLOIT' }, 60)
    const [h, , s] = good.split('.')
    expect(codeOf(verifyToken(keys, `${h}.${b64({ tenant: 't1', role: 'ADMIN' })}.${s}`))).toBe('HERALD_ERR_TOKEN_INVALID')
    expect(codeOf(verifyToken(keys, `${b64({ alg: 'none' })}.${b64({ tenant: 't1', role: 'ADMIN' })}.`))).toBe('HERALD_ERR_TOKEN_INVALID')
    // RS256 declared but no public key configured: never falls back to the HMAC secret.
    expect(codeOf(verifyToken(keys, `${b64({ alg: 'RS256' })}.${b64({ tenant: 't1', role: 'ADMIN' })}.${s}`))).toBe('HERALD_ERR_TOKEN_INVALID')
    expect(codeOf(verifyToken(keys, signToken(keys.hs256, { tenant: 't1', role: 'ADMIN' }, 60, Date.now() - 3_600_000)))).toBe('HERALD_ERR_TOKEN_EXPIRED')
    const hs = (payload: object) => {
      const data = `${b64({ alg: 'HS256' })}.${b64(payload)}`
      return `${data}.${createHmac('sha256', keys.hs256).update(data).digest('base64url')}`
    }
    const exp = now + 60
    expect(codeOf(verifyToken(keys, hs({ tenant: 't1', role: 'ADMIN', exp, nbf: now + 3600 })))).toBe('HERALD_ERR_TOKEN_INVALID')
    expect(codeOf(verifyToken(keys, hs({ role: 'ADMIN', exp })))).toBe('HERALD_ERR_TOKEN_INVALID')
    expect(codeOf(verifyToken(keys, hs({ tenant: 't1', role: 'REGISTERED_USER', exp })))).toBe('HERALD_ERR_FORBIDDEN')
    expect(codeOf(verifyToken(keys, hs({ tenant: 't1', exp })))).toBe('HERALD_ERR_FORBIDDEN')
    expect(codeOf(verifyToken(keys, 'x'.repeat(10_000)))).toBe('HERALD_ERR_TOKEN_INVALID')
    expect(codeOf(verifyToken(keys, 'not-a-jwt'))).toBe('HERALD_ERR_TOKEN_INVALID')
  })

  it('checks the role against the operation and the tenant against HERALD_TENANTS', () => {
    const exploit = `Bearer ${signToken(keys.hs256, { tenant: 't1', role: 'EXPLOIT' }, 60)}`
    expect(codeOf(authorize(keys, undefined, exploit, 'read'))).toBe('OK')
    expect(codeOf(authorize(keys, undefined, exploit, 'retry'))).toBe('OK')
    expect(codeOf(authorize(keys, undefined, exploit, 'admin'))).toBe('HERALD_ERR_FORBIDDEN')
    expect(codeOf(authorize(keys, new Set(['t2']), exploit, 'read'))).toBe('HERALD_ERR_TENANT_NOT_ACCEPTED')
    expect(codeOf(authorize(keys, undefined, undefined, 'read'))).toBe('HERALD_ERR_UNAUTHENTICATED')
    expect(codeOf(authorize(keys, undefined, 'Basic dXNlcjpwYXNz', 'read'))).toBe('HERALD_ERR_TOKEN_INVALID')
  })

  it('accepts RS256 tokens against a public key PEM file and ES256 tokens against a JWKS file', () => {
    const dir = tmpDir()
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    fs.writeFileSync(path.join(dir, 'issuer.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }))
    fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] }))
    const external = loadTokenKeys(tokenConfig(dir, { HERALD_JWT_SECRET: 'an-hs256-secret-of-at-least-32-bytes', HERALD_JWT_PUBLIC_KEY_FILE: path.join(dir, 'issuer.pem'), HERALD_JWT_JWKS_FILE: path.join(dir, 'jwks.json') }))
    const claims = { tenant: 'project1', role: 'ADMIN', sub: 'regards-admin', exp: now + 60 }
    expect(verifyToken(external, signAsymmetric('RS256', rsa.privateKey, claims))).toEqual({ tenant: 'project1', role: 'ADMIN', subject: 'regards-admin' })
    expect(verifyToken(external, signAsymmetric('ES256', ec.privateKey, claims, 'k1'))).toMatchObject({ tenant: 'project1' })
    expect(codeOf(verifyToken(external, signAsymmetric('ES256', ec.privateKey, claims, 'other-kid')))).toBe('HERALD_ERR_TOKEN_INVALID')
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 })
    expect(codeOf(verifyToken(external, signAsymmetric('RS256', stranger.privateKey, claims)))).toBe('HERALD_ERR_TOKEN_INVALID')
    // Algorithm confusion: an HS256 token whose HMAC key is the public key PEM.
    const data = `${b64({ alg: 'HS256' })}.${b64(claims)}`
    const confused = `${data}.${createHmac('sha256', fs.readFileSync(path.join(dir, 'issuer.pem'))).update(data).digest('base64url')}`
    expect(codeOf(verifyToken(external, confused))).toBe('HERALD_ERR_TOKEN_INVALID')
    expect(createPrivateKey).toBeTypeOf('function')
  })

  const hsWith = (secret: Buffer, payload: object) => {
    const data = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`
    return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`
  }

  it('requires exp, and refuses a token valid for longer than HERALD_TOKEN_MAX_LIFETIME (7 days unless set)', () => {
    const claims = { tenant: 't1', role: 'ADMIN' }
    const noExp = verifyToken(keys, hsWith(keys.hs256, claims))
    expect([codeOf(noExp), detailOf(noExp)]).toEqual(['HERALD_ERR_TOKEN_INVALID', expect.stringMatching(/no exp claim/)])
    expect(codeOf(verifyToken(keys, hsWith(keys.hs256, { ...claims, exp: String(now + 60) })))).toBe('HERALD_ERR_TOKEN_INVALID')
    expect(codeOf(verifyToken(keys, signToken(keys.hs256, claims, 7 * 86_400)))).toBe('OK')
    const tooLong = verifyToken(keys, signToken(keys.hs256, claims, 8 * 86_400))
    expect([codeOf(tooLong), detailOf(tooLong)]).toEqual(['HERALD_ERR_TOKEN_INVALID', expect.stringMatching(/HERALD_TOKEN_MAX_LIFETIME/)])
    const hourly = loadTokenKeys(tokenConfig(dataDir, { HERALD_TOKEN_MAX_LIFETIME: '1h' }))
    expect(codeOf(verifyToken(hourly, signToken(hourly.hs256, claims, 3600)))).toBe('OK')
    expect(codeOf(verifyToken(hourly, signToken(hourly.hs256, claims, 7200)))).toBe('HERALD_ERR_TOKEN_INVALID')
  })

  it('checks iss and aud when they are configured, and only then', () => {
    const strict = loadTokenKeys(tokenConfig(dataDir, { HERALD_JWT_ISSUER: 'https://auth.example', HERALD_JWT_AUDIENCE: 'herald' }))
    const token = (extra: object) => hsWith(keys.hs256, { tenant: 't1', role: 'ADMIN', exp: now + 60, ...extra })
    const iss = 'https://auth.example'
    expect(codeOf(verifyToken(strict, token({ iss, aud: 'herald' })))).toBe('OK')
    expect(codeOf(verifyToken(strict, token({ iss, aud: ['catalog', 'herald'] })))).toBe('OK')
    expect(detailOf(verifyToken(strict, token({ aud: 'herald' })))).toMatch(/HERALD_JWT_ISSUER/)
    expect(detailOf(verifyToken(strict, token({ iss: 'https://evil.example', aud: 'herald' })))).toMatch(/HERALD_JWT_ISSUER/)
    expect(detailOf(verifyToken(strict, token({ iss })))).toMatch(/HERALD_JWT_AUDIENCE/)
    expect(detailOf(verifyToken(strict, token({ iss, aud: ['catalog'] })))).toMatch(/HERALD_JWT_AUDIENCE/)
    expect(detailOf(verifyToken(strict, token({ iss, aud: 'herald-other' })))).toMatch(/HERALD_JWT_AUDIENCE/)
    expect(codeOf(verifyToken(keys, token({ iss: 'anyone', aud: 'anything' })))).toBe('OK')
  })

  it('refuses HS256 tokens when an external issuer is configured, unless HERALD_JWT_ALLOW_HS256=true', () => {
    const dir = tmpDir()
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    fs.writeFileSync(path.join(dir, 'issuer.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }))
    const env = { HERALD_JWT_SECRET: 'a-secret-of-the-instance-operator', HERALD_JWT_PUBLIC_KEY_FILE: path.join(dir, 'issuer.pem') }
    const external = loadTokenKeys(tokenConfig(dir, env))
    const claims = { tenant: 't1', role: 'ADMIN', exp: now + 60 }
    const hs256 = signToken(external.hs256, claims, 60)
    const refused = verifyToken(external, hs256)
    expect([codeOf(refused), detailOf(refused)]).toEqual(['HERALD_ERR_TOKEN_INVALID', expect.stringMatching(/HERALD_JWT_ALLOW_HS256/)])
    expect(codeOf(verifyToken(external, signAsymmetric('RS256', rsa.privateKey, claims)))).toBe('OK')
    const both = loadTokenKeys(tokenConfig(dir, { ...env, HERALD_JWT_ALLOW_HS256: 'true' }))
    expect(codeOf(verifyToken(both, hs256))).toBe('OK')
    expect(codeOf(verifyToken(both, signAsymmetric('RS256', rsa.privateKey, claims)))).toBe('OK')
    expect(() => tokenConfig(dir, { HERALD_JWT_ALLOW_HS256: 'yes' })).toThrow(/HERALD_JWT_ALLOW_HS256 must be true or false/)
  })
})

/** Every operation of the API with the role it needs, a path on tenant A's fixtures and a valid body. */
const RECIPIENT_BODY = rabbitRecipient('rcp-new')
const { businessId: _b, ...RECIPIENT_UPDATE } = rabbitRecipient('rcp-a')
const RULE_BODY = luceneRule('rule-new', 'action:CREATED', [])
const { businessId: _r, ...RULE_UPDATE } = luceneRule('rule-a', 'action:UPDATED', [])
const CONFIG_BODY = { microservice: 'rs-notifier', modules: [{ module: { id: 'notifier' }, resetBeforeImport: true, configuration: [] }] }
const URN_A = 'URN:FEATURE:DATA:tenant-a:00000000-0000-0000-0000-000000000001:V1'
type Route = [method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, access: 'read' | 'retry' | 'admin', body?: unknown]
const routes = (dlId: number): Route[] => [
  ['GET', '/api/v1/recipients', 'read'],
  ['GET', '/api/v1/recipients/rcp-a', 'read'],
  ['POST', '/api/v1/recipients', 'admin', RECIPIENT_BODY],
  ['PUT', '/api/v1/recipients/rcp-a', 'admin', RECIPIENT_UPDATE],
  ['POST', '/api/v1/recipients/rcp-a/deactivate', 'admin'],
  ['POST', '/api/v1/recipients/rcp-a/activate', 'admin'],
  ['POST', '/api/v1/recipients/rcp-a/park', 'admin'],
  ['POST', '/api/v1/recipients/rcp-a/unpark', 'admin'],
  ['POST', '/api/v1/recipients/rcp-a/test', 'admin'],
  ['DELETE', '/api/v1/recipients/rcp-a?force=true', 'admin'],
  ['GET', '/api/v1/rules', 'read'],
  ['GET', '/api/v1/rules/rule-a', 'read'],
  ['POST', '/api/v1/rules', 'admin', RULE_BODY],
  ['PUT', '/api/v1/rules/rule-a', 'admin', RULE_UPDATE],
  ['DELETE', '/api/v1/rules/rule-a', 'admin'],
  ['POST', '/api/v1/rules/test', 'read', { rule: { pluginId: 'LuceneRuleMatcher', parameters: [{ name: 'metadata_rule', value: 'action:CREATED' }] }, metadata: { action: 'CREATED' } }],
  ['GET', '/api/v1/configuration', 'read'],
  ['POST', '/api/v1/configuration', 'admin', CONFIG_BODY],
  ['GET', '/api/v1/requests', 'read'],
  ['GET', '/api/v1/requests/req-1', 'read'],
  ['POST', '/api/v1/requests/retry', 'retry', { all: true }],
  ['POST', '/api/v1/requests/req-1/retry', 'retry'],
  ['DELETE', '/api/v1/requests/req-1', 'admin'],
  ['GET', '/api/v1/requests/req-1/decisions', 'read'],
  ['GET', '/api/v1/retry-jobs/estimate?state=ERROR', 'read'],
  ['POST', '/api/v1/retry-jobs', 'retry', { filter: { state: 'ERROR' } }],
  ['GET', '/api/v1/retry-jobs', 'read'],
  ['GET', '/api/v1/retry-jobs/1', 'read'],
  ['DELETE', '/api/v1/retry-jobs/1', 'retry'],
  ['GET', '/api/v1/dead-letters', 'read'],
  ['GET', `/api/v1/dead-letters/${dlId}`, 'read'],
  ['POST', '/api/v1/dead-letters/replay', 'retry', { ids: [dlId] }],
  ['POST', `/api/v1/dead-letters/${dlId}/replay`, 'retry'],
  ['POST', '/api/v1/dead-letters/discard', 'admin', { ids: [dlId] }],
  ['DELETE', `/api/v1/dead-letters/${dlId}`, 'admin'],
  ['GET', '/api/v1/products', 'read'],
  ['GET', `/api/v1/products/${URN_A}`, 'read'],
  ['GET', '/api/v1/catalog/requests', 'read'],
  ['GET', '/api/v1/catalog/counters', 'read'],
  ['POST', '/api/v1/catalog/requests/retry', 'retry', { type: 'NOTIFICATION' }],
  ['POST', '/api/v1/catalog/requests/req-1/retry', 'retry'],
  ['POST', `/api/v1/products/${URN_A}/force-deletion`, 'admin'],
  ['POST', `/api/v1/products/${URN_A}/disseminate`, 'admin', { recipients: ['rcp-a'] }],
  ['POST', '/api/v1/catalog/aips', 'admin', [{ providerId: 'aip-new' }]],
  ['PUT', '/api/v1/catalog/settings/active_notifications', 'admin', { value: false }],
  ['GET', '/api/v1/catalog/shovels', 'admin'],
  // A vhost the broker does not have: the shovel operations run (404) without touching the broker's shovels.
  ['POST', '/api/v1/catalog/shovels', 'admin', { name: 'shovel-x', vhost: 'herald-no-such-vhost', srcUri: 'amqp://', srcQueue: 'q', destUri: 'amqp://', destExchange: 'x', declareSource: false }],
  ['DELETE', '/api/v1/catalog/shovels/shovel-x?vhost=herald-no-such-vhost', 'admin'],
  ['GET', '/api/v1/plugins', 'read'],
  ['GET', '/api/v1/plugins/WebhookSender', 'read'],
  ['GET', '/api/v1/overview', 'read'],
  ['GET', '/api/v1/completeness', 'read'],
  ['GET', '/api/v1/completeness/gap?recipient=rcp-x&day=2026-01-01', 'read'],
  ['GET', '/api/v1/audit', 'admin'],
  ['POST', '/api/v1/console/sign-out', 'read'],
]

for (const backend of BACKENDS) {
  describe(`${backend}: authentication, roles and tenant isolation on every route`, () => {
    let f: HttpFixture
    let deadLetterId: number
    const A = 'tenant-a'

    /** Tenant A: a recipient, a rule, a request in ERROR with a failed delivery, a dead letter. */
    async function seedTenantA(): Promise<void> {
      const db = f.herald.ctx.db
      for (const [m, u, b] of [['POST', '/api/v1/recipients', rabbitRecipient('rcp-a')], ['POST', '/api/v1/rules', luceneRule('rule-a', 'action:CREATED', ['rcp-a'])]] as const) {
        expect((await f.call(m, u, { as: [A, 'ADMIN'], body: b })).statusCode).toBe(201)
      }
      const { rows } = await sql<{ id: number }>`insert into notification_request (tenant, request_id, request_owner, request_date, not_before, mode, state, payload, metadata)
        values (${A}, 'req-1', 'owner', now(), now(), 'RULES', 'ERROR', '{"id":"p1"}', '{"action":"CREATED"}') returning id`.execute(db)
      await sql`insert into delivery (tenant, request_pk, recipient_id, state, request_date, attempts, last_error)
        select ${A}, ${rows[0].id}, id, 'ERROR', now(), 5, 'boom' from plugin_configuration where tenant = ${A} and business_id = 'rcp-a'`.execute(db)
      await insertDeadLetter(db, {
        tenant: A, dlq: 'q.DLQ', queue: 'q', exchange: 'x', routingKey: '', reason: 'bad', headers: { 'regards.tenant': A }, properties: {}, body: Buffer.from('{}'), deadLetteredAt: null,
      })
      deadLetterId = (await sql<{ id: number }>`select max(id)::int as id from dead_letter`.execute(db)).rows[0].id
      const product = await sql<{ id: number }>`insert into catalog_product (tenant, urn, kind, provider_id, version, content, dissemination_status)
        values (${A}, ${URN_A}, 'FEATURE', 'provider-a', 1, '{"type":"Feature"}', 'PENDING') returning id`.execute(db)
      await sql`insert into catalog_dissemination (product_id, tenant, label, request_date) values (${product.rows[0].id}, ${A}, 'rcp-a', now())`.execute(db)
      await sql`insert into catalog_counter (tenant, name, value) values (${A}, 'ack.unknown-urn', 2)`.execute(db)
    }

    async function tenantAState() {
      const db = f.herald.ctx.db
      const q = async (query: ReturnType<typeof sql>) => (await query.execute(db)).rows
      return {
        plugins: await q(sql`select business_id, active, label, parameters from plugin_configuration where tenant = ${A} order by business_id`),
        rules: await q(sql`select rr.* from rule_recipient rr join rule r on r.plugin_configuration_id = rr.rule_id where r.tenant = ${A}`),
        requests: await q(sql`select request_id, state from notification_request where tenant = ${A}`),
        deliveries: await q(sql`select state, attempts from delivery where tenant = ${A}`),
        deadLetters: await q(sql`select id from dead_letter where tenant = ${A}`),
        products: await q(sql`select urn, dissemination_status from catalog_product where tenant = ${A}`),
      }
    }

    beforeAll(async () => {
      // Over a thousand requests without a valid token from one address: about authentication, not the rate limit.
      f = await startHttpFixture(backend, { env: { HERALD_API_RATE_LIMIT: '0' } })
      await seedTenantA()
    })
    afterAll(async () => {
      await f?.close()
    })

    it('lists every operation of the OpenAPI document in this matrix', async () => {
      const spec = JSON.parse((await f.call('GET', '/api/v1/openapi.json', { as: null })).body)
      const documented = Object.entries(spec.paths as Record<string, object>)
        // The console's event stream never ends, so inject() cannot call it: test/console-sign-in.test.ts checks its refusals.
        .filter(([p]) => p.startsWith('/api/v1/') && p !== '/api/v1/console/events')
        // Operations declared public (`security: []`, e.g. the console's sign-in) take no token.
        .flatMap(([p, ops]) => Object.entries(ops as Record<string, { security?: unknown[] }>).filter(([, op]) => op.security?.length !== 0).map(([m]) => `${m.toUpperCase()} ${p}`))
      const tested = new Set(routes(1).map(([m, u]) => `${m} ${u.split('?')[0].replace(/\/1(\/|$)/, '/{id}$1').replace(/rcp-a|rule-a/, '{businessId}').replace('req-1', '{requestId}').replace(URN_A, '{urn}').replace('WebhookSender', '{pluginId}').replace(/\/(active_notifications|shovel-x)$/, '/{name}')}`))
      expect(documented.sort()).toEqual([...tested].sort())
    })

    it('answers 401 without a token or with an invalid one, with WWW-Authenticate, on every route', async () => {
      for (const [method, url, , body] of routes(deadLetterId)) {
        const none = await f.call(method, url, { as: null, body })
        expect([url, none.statusCode, none.json().code]).toEqual([url, 401, 'HERALD_ERR_UNAUTHENTICATED'])
        expect(none.headers['content-type']).toMatch(/^application\/problem\+json/)
        expect(none.headers['www-authenticate']).toMatch(/^Bearer/)
        const forged = await f.call(method, url, { as: null, body, headers: { authorization: `Bearer ${f.token(A, 'ADMIN').slice(0, -4)}AAAA` } })
        expect([url, forged.statusCode, forged.json().code]).toEqual([url, 401, 'HERALD_ERR_TOKEN_INVALID'])
      }
    })

    it('answers 403 to any other role, and to EXPLOIT on ADMIN operations', async () => {
      for (const [method, url, access, body] of routes(deadLetterId)) {
        for (const role of ['REGISTERED_USER', 'PUBLIC', 'whatever']) {
          const r = await f.call(method, url, { as: [A, role], body })
          expect([url, role, r.statusCode, r.json().code]).toEqual([url, role, 403, 'HERALD_ERR_FORBIDDEN'])
        }
        if (access === 'admin') {
          const r = await f.call(method, url, { as: [A, 'EXPLOIT'], body })
          expect([url, r.statusCode]).toEqual([url, 403])
        }
      }
      expect(await tenantAState()).toMatchObject({ requests: [{ request_id: 'req-1', state: 'ERROR' }], deadLetters: [{ id: deadLetterId }] })
      // Each refused change is in the audit trail (the guard records it: no operation ran), no refused read is.
      const refused = await sql<{ action: string; role: string; target: string | null }>`select action, role, target from audit_entry
        where tenant = ${A} and outcome = 'HERALD_ERR_FORBIDDEN'`.execute(f.herald.ctx.db)
      const actions = new Set(refused.rows.map((e) => e.action))
      for (const action of ['recipients.delete', 'recipients.park', 'rules.update', 'requests.delete', 'dead-letters.discard', 'catalog.force-deletion']) expect(actions).toContain(action)
      expect([...actions].filter((a) => /\.(list|show)$/.test(a))).toEqual([])
      expect(refused.rows).toContainEqual({ action: 'recipients.delete', role: 'EXPLOIT', target: 'rcp-a' })
      expect(refused.rows).toContainEqual({ action: 'requests.delete', role: 'EXPLOIT', target: 'req-1' })
      // A token with a role Herald does not know names no operator: refused, not recorded.
      expect(new Set(refused.rows.map((e) => e.role))).toEqual(new Set(['EXPLOIT']))
    })

    it('never shows or changes tenant A to an ADMIN of tenant B, on any route', async () => {
      const before = await tenantAState()
      for (const [method, url, , body] of routes(deadLetterId)) {
        const r = await f.call(method, url, { as: ['tenant-b', 'ADMIN'], body })
        expect([url, r.statusCode]).not.toEqual([url, 500])
        if (url === '/api/v1/audit') {
          // B's own trail names the ids B asked for (rcp-a, req-1…): what must hold is that it is B's alone.
          expect([url, r.statusCode, r.json().items.every((e: { tenant: string }) => e.tenant === 'tenant-b')]).toEqual([url, 200, true])
        } else if (method === 'GET' && r.statusCode === 200) {
          const text = r.body
          for (const secretOfA of ['rcp-a', 'rule-a', 'req-1', '"bad"', 'provider-a', 'unknown-urn']) expect([url, text.includes(secretOfA)]).toEqual([url, false])
        }
        if (/rcp-a|rule-a|req-1|dead-letters\/\d|URN:/.test(url) && !url.endsWith('/retry') && !url.endsWith('/replay')) expect([url, r.statusCode]).toEqual([url, 404])
      }
      expect(await tenantAState()).toEqual(before)
      // What tenant B created lives in tenant B.
      const created = await f.call('GET', '/api/v1/recipients', { as: ['tenant-b', 'EXPLOIT'] })
      expect(created.json().items.map((r: { businessId: string }) => r.businessId)).toEqual([])
    })

    it('lets EXPLOIT read and retry, and ADMIN do everything, in its own tenant', async () => {
      const own = 'tenant-c'
      for (const [method, url, access, body] of routes(deadLetterId)) {
        for (const role of access === 'admin' ? ['ADMIN'] : ['EXPLOIT', 'ADMIN']) {
          const r = await f.call(method, url, { as: [own, role], body })
          expect([method, url, role, r.statusCode < 500 && r.statusCode !== 401 && r.statusCode !== 403]).toEqual([method, url, role, true])
        }
      }
    })

    it('answers 1,000 requests with invalid tokens 401 and stays responsive', async () => {
      const valid = f.token(A, 'EXPLOIT')
      const [h, p] = valid.split('.')
      const bad = [
        'garbage',
        `${h}.${p}.${'A'.repeat(43)}`,
        `${b64({ alg: 'none' })}.${p}.`,
        signToken(Buffer.from('another secret'), { tenant: A, role: 'ADMIN' }, 60),
        signToken(f.keys.hs256, { tenant: A, role: 'ADMIN' }, 60, Date.now() - 86_400_000),
      ]
      for (let round = 0; round < 20; round++) {
        const answers = await Promise.all(
          Array.from({ length: 50 }, (_, i) => f.call('GET', '/api/v1/recipients', { as: null, headers: { authorization: `Bearer ${bad[(round * 50 + i) % bad.length]}` } })),
        )
        for (const a of answers) expect(a.statusCode).toBe(401)
      }
      const ok = await f.call('GET', '/api/v1/recipients', { as: [A, 'EXPLOIT'] })
      expect(ok.statusCode).toBe(200)
      expect(ok.json().items[0].businessId).toBe('rcp-a')
    })

    it('refuses tokens of tenants outside HERALD_TENANTS', async () => {
      const g = await startHttpFixture(backend, { env: { HERALD_TENANTS: 'only-this' } })
      try {
        expect((await g.call('GET', '/api/v1/rules', { as: ['only-this', 'EXPLOIT'] })).statusCode).toBe(200)
        const r = await g.call('GET', '/api/v1/rules', { as: ['other', 'ADMIN'] })
        expect([r.statusCode, r.json().code]).toEqual([403, 'HERALD_ERR_TENANT_NOT_ACCEPTED'])
      } finally {
        await g.close()
      }
    })
  })
}

for (const backend of BACKENDS) {
  describe(`${backend}: token rules of an instance with an external issuer, over HTTP`, () => {
    let f: HttpFixture
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const iss = 'https://auth.example'
    const call = (token: string) => f.call('GET', '/api/v1/rules', { as: null, headers: { authorization: `Bearer ${token}` } })
    const external = (claims: Record<string, unknown>) => signAsymmetric('RS256', rsa.privateKey, { tenant: 't1', role: 'EXPLOIT', iss, aud: 'herald', exp: Math.floor(Date.now() / 1000) + 600, ...claims })

    beforeAll(async () => {
      const dir = tmpDir()
      fs.writeFileSync(path.join(dir, 'issuer.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }))
      f = await startHttpFixture(backend, { env: { HERALD_JWT_PUBLIC_KEY_FILE: path.join(dir, 'issuer.pem'), HERALD_JWT_ISSUER: iss, HERALD_JWT_AUDIENCE: 'herald' } })
    })
    afterAll(async () => {
      await f?.close()
    })

    it('accepts the issuer’s tokens for this audience, with an exp within HERALD_TOKEN_MAX_LIFETIME, and nothing else', async () => {
      expect((await call(external({}))).statusCode).toBe(200)
      for (const [why, token, detail] of [
        ['no exp', external({ exp: undefined }), /no exp claim/],
        ['valid 30 days', external({ exp: Math.floor(Date.now() / 1000) + 30 * 86_400 }), /HERALD_TOKEN_MAX_LIFETIME/],
        ['another issuer', external({ iss: 'https://elsewhere.example' }), /HERALD_JWT_ISSUER/],
        ['another audience', external({ aud: 'catalog' }), /HERALD_JWT_AUDIENCE/],
        ['HS256 of the instance', f.token('t1', 'EXPLOIT'), /HERALD_JWT_ALLOW_HS256/],
      ] as const) {
        const r = await call(token)
        expect([why, r.statusCode, r.json().code, r.json().detail]).toEqual([why, 401, 'HERALD_ERR_TOKEN_INVALID', expect.stringMatching(detail)])
      }
    })
  })
}
