import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getProduct } from '../src/catalog/queries/get-product.ts'
import { listRequests } from '../src/catalog/queries/list-requests.ts'
import { clearShovel } from '../src/catalog/shovel.ts'
import { loadTokenKeys, signToken, type TokenKeys } from '../src/http/auth.ts'
import { createHttpServer } from '../src/http/server.ts'
import type { Herald } from '../src/main.ts'
import { CatalogClient } from './support/catalog-client.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { startTestHerald } from './support/herald.ts'
import { waitFor } from './support/wait-for.ts'
import { AMQP_BASE_URL, createTestStorage, createVhost, type TestStorage } from './support/services.ts'

const TENANT = 'project1'
const CLI_SUBJECT = `cli:${os.userInfo().username}`
// Each CLI run imports Herald: seconds apiece on a loaded machine.
const CLI_TIMEOUT = 300_000

/**
 * The catalog's operator actions (src/ops/catalog-*.ts) through REST and through the CLI, on a running catalog
 * role fed by FEM requests (the test plays the FEM client and the notifier). PostgreSQL only: the CLI runs beside
 * the running instance, which PGlite (one process) does not allow; the catalog REST reads run on both backends in
 * test/http-products.test.ts.
 */
describe('catalog operations through REST and the CLI', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let otherVhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let app: FastifyInstance
  let keys: TokenKeys
  let client: CatalogClient
  let env: NodeJS.ProcessEnv
  const signalled: string[] = []

  const rest = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, opts: { role?: string; body?: unknown } = {}) =>
    app.inject({
      method,
      url: `/api/v1${url}`,
      headers: { authorization: `Bearer ${signToken(keys.hs256, { tenant: TENANT, role: opts.role ?? 'ADMIN' }, 3600)}`, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      payload: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    })
  const cli = (...args: string[]) => runHerald(['catalog', ...args], { env, timeoutMs: 60_000 })
  /** The tenant's audit entries of these actions, oldest first. */
  const audit = async (...actions: string[]) =>
    (await sql<{ subject: string; role: string; target: string; outcome: string }>`select subject, role, target, outcome from audit_entry
      where tenant = ${TENANT} and action = any(${actions}) order by id`.execute(herald.ctx.db)).rows

  const answered = async (requestId: string, state: string, type: string) => {
    await waitFor(() => client.responsesFor(requestId).some((r) => r.state === state && r.type === type), `${state} ${type} for ${requestId}`, { wakeOn: client.onMessage })
    return client.responsesFor(requestId).find((r) => r.state === state && r.type === type)
  }
  const notified = async (requestId: string, times = 1) => {
    await waitFor(() => client.sentFor(requestId).length >= times, `notification ${times} of ${requestId}`, { wakeOn: client.onMessage })
    return client.sentFor(requestId).at(-1)!
  }
  /** A feature created through a FEM request and disseminated to a blocking recipient, not acknowledged yet. */
  const blockingProduct = async () => {
    const requestId = randomUUID()
    await client.create(TENANT, requestId, { id: `product-${randomUUID()}`, properties: {} })
    const { urn } = await answered(requestId, 'SUCCESS', 'CREATION')
    const message = await notified(requestId)
    await client.notifierEvent(TENANT, {
      requestId,
      state: 'SUCCESS',
      notificationDate: String(message.headers['regards.request.date']),
      recipients: [{ label: 'archive', status: 'SUCCESS', ackRequired: true, blockingRequired: true }],
    })
    await answered(requestId, 'SUCCESS', 'NOTIFICATION')
    return urn as string
  }
  /** Deletes the product: its deletion waits for the blocking dissemination. */
  const blockedDeletion = async (urn: string) => {
    const requestId = randomUUID()
    await client.delete(TENANT, requestId, urn)
    await waitFor(async () => (await listRequests(herald.ctx.db, TENANT, { requestId, step: 'WAITING_BLOCKING_DISSEMINATION' })).items.length === 1, 'blocked deletion', { wakeOn: client.onMessage })
    return requestId
  }
  /** A notification request the notifier denied: in error (REMOTE_NOTIFICATION_ERROR). */
  const failedNotification = async (urn: string) => {
    const requestId = randomUUID()
    await client.notify(TENANT, requestId, { urn, priority: 'NORMAL' })
    await notified(requestId)
    await client.notifierEvent(TENANT, { requestId, state: 'DENIED' })
    await answered(requestId, 'ERROR', 'NOTIFICATION')
    return requestId
  }

  beforeAll(async () => {
    vhost = await createVhost()
    otherVhost = await createVhost()
    storage = await createTestStorage('postgres')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['catalog'] })
    herald.ctx.events.on('instance:signalled', ({ signal, from }) => signalled.push(`${signal} ${from.split(':')[0]}`))
    keys = loadTokenKeys(herald.ctx.config)
    app = await createHttpServer(herald.ctx, { metrics: new Registry(), consuming: () => true, tokenKeys: keys, catalog: true })
    await app.ready()
    client = new CatalogClient(vhost.url)
    await client.listenResponses()
    await client.listenToNotifierRequests()
    env = cliEnv(storage, vhost.url)
  })

  afterAll(async () => {
    await client?.close()
    await app?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
    await otherVhost?.drop()
  })

  it('serves the catalog routes only where the catalog role runs', async () => {
    const without = await createHttpServer(herald.ctx, { metrics: new Registry(), consuming: () => true, tokenKeys: keys })
    try {
      const token = signToken(keys.hs256, { tenant: TENANT, role: 'ADMIN' }, 3600)
      const res = await without.inject({ method: 'POST', url: '/api/v1/catalog/requests/retry', headers: { authorization: `Bearer ${token}` } })
      expect(res.statusCode).toBe(404)
    } finally {
      await without.close()
    }
    expect((await rest('GET', '/catalog/counters')).statusCode).toBe(200)
  })

  it('forces a blocked deletion through REST; refuses EXPLOIT (403), an unknown product (404), one with no blocked deletion (409), a bad URN (400)', async () => {
    const urn = await blockingProduct()
    const requestId = await blockedDeletion(urn)
    expect((await rest('POST', `/products/${urn}/force-deletion`, { role: 'EXPLOIT' })).statusCode).toBe(403)
    const forced = await rest('POST', `/products/${urn}/force-deletion`)
    expect([forced.statusCode, forced.json()]).toEqual([200, { forced: [requestId] }])
    expect(await answered(requestId, 'SUCCESS', 'DELETION')).toMatchObject({ urn })
    expect(await getProduct(herald.ctx.db, TENANT, urn)).toBeUndefined()
    const gone = await rest('POST', `/products/${urn}/force-deletion`)
    expect([gone.statusCode, gone.headers['content-type'], gone.json().code]).toEqual([404, expect.stringContaining('application/problem+json'), 'HERALD_ERR_NOT_FOUND'])
    const unblocked = await blockingProduct()
    const conflict = await rest('POST', `/products/${unblocked}/force-deletion`)
    expect([conflict.statusCode, conflict.json().code]).toEqual([409, 'HERALD_ERR_CATALOG_REQUEST_STATE'])
    expect((await rest('POST', '/products/not%20a%20urn/force-deletion')).statusCode).toBe(400)
    // The guard records the role's refusal; the schema's (400) reaches no operation and is not recorded.
    expect((await audit('catalog.force-deletion')).map((e) => [e.role, e.target, e.outcome])).toEqual([
      ['EXPLOIT', urn, 'HERALD_ERR_FORBIDDEN'],
      ['ADMIN', urn, 'ok'],
      ['ADMIN', urn, 'HERALD_ERR_NOT_FOUND'],
      ['ADMIN', unblocked, 'HERALD_ERR_CATALOG_REQUEST_STATE'],
    ])
  })

  it('forces a blocked deletion through the CLI, which wakes the running instance; refuses as REST does, by exit code', async () => {
    const urn = await blockingProduct()
    const requestId = await blockedDeletion(urn)
    const forced = await cli('force-deletion', '--tenant', TENANT, '--urn', urn)
    expect([forced.code, JSON.parse(forced.stdout)]).toEqual([0, { forced: [requestId] }])
    expect(signalled).toContain('catalog cli')
    expect(await answered(requestId, 'SUCCESS', 'DELETION')).toMatchObject({ urn })
    const gone = await cli('force-deletion', '--tenant', TENANT, '--urn', urn)
    expect([gone.code, gone.stderr]).toEqual([3, expect.stringContaining('HERALD_ERR_NOT_FOUND')])
    const unblocked = await blockingProduct()
    expect((await cli('force-deletion', '--tenant', TENANT, '--request-id', 'nope', '--urn', unblocked)).code).toBe(4)
    expect((await cli('force-deletion', '--tenant', TENANT)).code).toBe(2)
    const refused = await runHerald(['catalog', 'force-deletion', '--tenant', TENANT, '--urn', unblocked], { env: { ...env, HERALD_TENANTS: 'other' }, timeoutMs: 60_000 })
    expect([refused.code, refused.stderr]).toEqual([5, expect.stringContaining('HERALD_ERR_TENANT_NOT_ACCEPTED')])
    const entries = (await audit('catalog.force-deletion')).filter((e) => e.subject === CLI_SUBJECT)
    expect(entries.map((e) => e.outcome)).toEqual(['ok', 'HERALD_ERR_NOT_FOUND', 'HERALD_ERR_CATALOG_REQUEST_STATE', 'HERALD_ERR_VALIDATION'])
  }, CLI_TIMEOUT)

  it('retries catalog requests in error through REST (EXPLOIT may); refuses one not in error (409), an unknown one (404), a bad type (400)', async () => {
    const urn = await blockingProduct()
    const failed = await failedNotification(urn)
    const retried = await rest('POST', `/catalog/requests/${failed}/retry`, { role: 'EXPLOIT' })
    expect([retried.statusCode, retried.json()]).toEqual([200, { retried: [failed] }])
    await notified(failed, 2)
    const again = await rest('POST', `/catalog/requests/${failed}/retry`, { role: 'EXPLOIT' })
    expect([again.statusCode, again.json().code]).toEqual([409, 'HERALD_ERR_CATALOG_REQUEST_STATE'])
    expect((await rest('POST', '/catalog/requests/no-such-request/retry')).statusCode).toBe(404)
    const bad = await rest('POST', '/catalog/requests/retry', { body: { type: 'SOMETHING' } })
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'HERALD_ERR_VALIDATION'])
    const second = await failedNotification(urn)
    const bulk = await rest('POST', '/catalog/requests/retry', { body: { type: 'NOTIFICATION' } })
    expect([bulk.statusCode, bulk.json().retried]).toEqual([200, [second]])
    expect((await audit('catalog.retry')).map((e) => [e.role, e.target, e.outcome])).toEqual([
      ['EXPLOIT', failed, 'ok'],
      ['EXPLOIT', failed, 'HERALD_ERR_CATALOG_REQUEST_STATE'],
      ['ADMIN', 'no-such-request', 'HERALD_ERR_NOT_FOUND'],
      ['ADMIN', '* type=NOTIFICATION', 'ok'],
    ])
  })

  it('retries through the CLI; refuses by exit code', async () => {
    const urn = await blockingProduct()
    const failed = await failedNotification(urn)
    const retried = await cli('retry', '--tenant', TENANT, '--request-id', failed)
    expect([retried.code, JSON.parse(retried.stdout)]).toEqual([0, { retried: [failed] }])
    await notified(failed, 2)
    expect((await cli('retry', '--tenant', TENANT, '--request-id', failed)).code).toBe(4)
    expect((await cli('retry', '--tenant', TENANT, '--request-id', 'no-such-request')).code).toBe(3)
    expect((await cli('retry', '--tenant', TENANT, '--type', 'SOMETHING')).code).toBe(2)
    expect((await audit('catalog.retry')).filter((e) => e.subject === CLI_SUBJECT).map((e) => e.outcome)).toEqual([
      'ok',
      'HERALD_ERR_CATALOG_REQUEST_STATE',
      'HERALD_ERR_NOT_FOUND',
      'HERALD_ERR_VALIDATION',
    ])
  }, CLI_TIMEOUT)

  it('disseminates a product on demand through REST and the CLI; refuses EXPLOIT, an unknown product, a bad priority', async () => {
    const urn = await blockingProduct()
    const asked = await rest('POST', `/products/${urn}/disseminate`, { body: { recipients: ['mission-b'] } })
    expect(asked.statusCode).toBe(200)
    const [result] = asked.json().results
    expect(result).toEqual({ urn, requestId: expect.any(String) })
    const sent = await notified(result.requestId)
    expect(sent.body.metadata).toMatchObject({ action: 'NOTIFIED' })
    expect((await rest('POST', `/products/${urn}/disseminate`, { role: 'EXPLOIT' })).statusCode).toBe(403)
    const unknown = `URN:FEATURE:DATA:${TENANT}:${randomUUID()}:V1`
    expect((await rest('POST', `/products/${unknown}/disseminate`)).statusCode).toBe(404)
    expect((await rest('POST', `/products/${urn}/disseminate`, { body: { priority: 'URGENT' } })).statusCode).toBe(400)

    const byCli = await cli('disseminate', '--tenant', TENANT, '--urn', urn, '--recipient', 'mission-c')
    expect(byCli.code).toBe(0)
    await notified(JSON.parse(byCli.stdout).results[0].requestId)
    expect((await cli('disseminate', '--tenant', TENANT, '--urn', unknown)).code).toBe(3)
    expect((await cli('disseminate', '--tenant', TENANT, '--urn', urn, '--priority', 'URGENT')).code).toBe(2)
    expect((await audit('catalog.disseminate')).map((e) => [e.subject === CLI_SUBJECT ? 'cli' : 'rest', e.outcome])).toEqual([
      ['rest', 'ok'],
      ['rest', 'HERALD_ERR_FORBIDDEN'],
      ['rest', 'HERALD_ERR_NOT_FOUND'],
      ['cli', 'ok'],
      ['cli', 'HERALD_ERR_NOT_FOUND'],
    ])
  }, CLI_TIMEOUT)

  it('records AIPs through REST and the CLI, one result per entry; refuses EXPLOIT, an empty list, a file that is not JSON', async () => {
    const providerId = `aip-${randomUUID()}`
    const created = await rest('POST', '/catalog/aips', { body: [{ providerId, session: 's', sessionOwner: 'o' }] })
    expect(created.statusCode).toBe(200)
    const [{ urn, status }] = created.json().results
    expect(status).toBe('CREATED')
    expect((await rest('GET', `/products/${urn}`)).json()).toMatchObject({ kind: 'AIP', providerId })
    const existing = await rest('POST', '/catalog/aips', { body: [{ providerId, urn }] })
    expect(existing.json().results).toEqual([{ providerId, urn, status: 'ERROR', error: `${urn} already exists` }])
    expect((await rest('POST', '/catalog/aips', { role: 'EXPLOIT', body: [{ providerId }] })).statusCode).toBe(403)
    expect((await rest('POST', '/catalog/aips', { body: [] })).statusCode).toBe(400)

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-aips-'))
    try {
      fs.writeFileSync(path.join(dir, 'aips.json'), JSON.stringify([{ providerId }]))
      fs.writeFileSync(path.join(dir, 'bad.json'), '[{"providerId"')
      const byCli = await cli('create-aips', '--tenant', TENANT, path.join(dir, 'aips.json'))
      expect([byCli.code, JSON.parse(byCli.stdout).results[0]]).toEqual([0, { providerId, urn: urn.replace(/:V1$/, ':V2'), status: 'CREATED' }])
      expect((await cli('create-aips', '--tenant', TENANT, path.join(dir, 'bad.json'))).code).toBe(2)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    expect((await audit('catalog.create-aips')).map((e) => e.outcome)).toEqual(['ok', 'ok', 'HERALD_ERR_FORBIDDEN', 'ok'])
  }, CLI_TIMEOUT)

  it('sets a catalog setting through REST and the CLI; refuses EXPLOIT, an unknown setting, a value of the wrong type', async () => {
    const set = await rest('PUT', '/catalog/settings/active_notifications', { body: { value: false } })
    expect([set.statusCode, set.json()]).toEqual([200, { active_notifications: false }])
    // Off: a creation is not notified any more.
    const quiet = randomUUID()
    await client.create(TENANT, quiet, { id: `quiet-${randomUUID()}` })
    await answered(quiet, 'SUCCESS', 'CREATION')
    await new Promise((r) => setTimeout(r, 300))
    expect(client.sentFor(quiet)).toEqual([])
    expect((await rest('PUT', '/catalog/settings/active_notifications', { role: 'EXPLOIT', body: { value: true } })).statusCode).toBe(403)
    expect((await rest('PUT', '/catalog/settings/no_such_setting', { body: { value: true } })).statusCode).toBe(404)
    const wrong = await rest('PUT', '/catalog/settings/active_notifications', { body: { value: 'yes' } })
    expect([wrong.statusCode, wrong.json().detail]).toEqual([400, expect.stringContaining('takes a boolean')])

    const byCli = await cli('setting', '--tenant', TENANT, 'active_notifications', 'true')
    expect([byCli.code, JSON.parse(byCli.stdout)]).toEqual([0, { active_notifications: true }])
    expect((await cli('setting', '--tenant', TENANT, 'no_such_setting', 'true')).code).toBe(3)
    expect((await cli('setting', '--tenant', TENANT, 'active_notifications', 'yes')).code).toBe(2)
    expect((await audit('catalog.setting')).map((e) => e.outcome)).toEqual(['ok', 'HERALD_ERR_FORBIDDEN', 'HERALD_ERR_NOT_FOUND', 'HERALD_ERR_VALIDATION', 'ok', 'HERALD_ERR_NOT_FOUND'])
  }, CLI_TIMEOUT)

  it('defines, lists and clears a shovel through REST and the CLI; refuses EXPLOIT, a bad URI, an unknown shovel', async () => {
    const uri = (name: string) => `${AMQP_BASE_URL}/${encodeURIComponent(name)}`
    const spec = { vhost: otherVhost.name, srcUri: uri(vhost.name), srcQueue: 'ops.shovel.src', destUri: uri(otherVhost.name), destExchange: 'amq.fanout' }
    try {
      const set = await rest('POST', '/catalog/shovels', { body: { name: 'ops-rest', ...spec } })
      expect([set.statusCode, set.json()]).toEqual([201, { name: 'ops-rest', vhost: otherVhost.name, state: 'running' }])
      expect((await rest('GET', '/catalog/shovels')).json()).toContainEqual(expect.objectContaining({ name: 'ops-rest', vhost: otherVhost.name, state: 'running' }))
      expect((await rest('POST', '/catalog/shovels', { role: 'EXPLOIT', body: { name: 'ops-rest', ...spec } })).statusCode).toBe(403)
      expect((await rest('POST', '/catalog/shovels', { body: { name: 'ops-rest', ...spec, srcUri: 'http://broker' } })).statusCode).toBe(400)
      const unreachable = await rest('POST', '/catalog/shovels', { body: { name: 'ops-rest', ...spec, srcUri: 'amqp://guest:s3cret@127.0.0.1:1/x' } })
      expect([unreachable.statusCode, unreachable.json().code, unreachable.body.includes('s3cret')]).toEqual([503, 'HERALD_ERR_BROKER_UNAVAILABLE', false])
      expect((await rest('DELETE', `/catalog/shovels/ops-rest?vhost=${encodeURIComponent(otherVhost.name)}`)).statusCode).toBe(204)
      const gone = await rest('DELETE', `/catalog/shovels/ops-rest?vhost=${encodeURIComponent(otherVhost.name)}`)
      expect([gone.statusCode, gone.json().code]).toEqual([404, 'HERALD_ERR_NOT_FOUND'])

      const flags = ['--vhost', spec.vhost, '--src-uri', spec.srcUri, '--src-queue', spec.srcQueue, '--dest-uri', spec.destUri, '--dest-exchange', spec.destExchange]
      const byCli = await cli('shovel', 'set', '--tenant', TENANT, '--name', 'ops-cli', ...flags)
      expect([byCli.code, byCli.stdout]).toEqual([0, 'shovel ops-cli running: ops.shovel.src → amq.fanout\n'])
      const printed = await cli('shovel', 'set', '--tenant', TENANT, '--name', 'ops-print', ...flags, '--print')
      expect(printed.stdout).toMatch(/^rabbitmqctl set_parameter -p \S+ shovel ops-print '\{"src-protocol":"amqp091"/)
      expect((await cli('shovel', 'clear', '--tenant', TENANT, '--name', 'ops-cli', '--vhost', spec.vhost)).code).toBe(0)
      expect((await cli('shovel', 'clear', '--tenant', TENANT, '--name', 'ops-cli', '--vhost', spec.vhost)).code).toBe(3)
      expect((await cli('shovel', 'set', '--tenant', TENANT, '--name', 'ops-cli', ...flags, '--ack-mode', 'sometimes')).code).toBe(2)
      expect((await audit('catalog.shovel.set', 'catalog.shovel.clear')).map((e) => [e.subject === CLI_SUBJECT ? 'cli' : e.role, e.target, e.outcome])).toEqual([
        ['ADMIN', `set ${otherVhost.name}/ops-rest`, 'ok'],
        // Refused by the route's role check: the shovel's name is in the body, so there is no target.
        ['EXPLOIT', null, 'HERALD_ERR_FORBIDDEN'],
        ['ADMIN', `set ${otherVhost.name}/ops-rest`, 'HERALD_ERR_BROKER_UNAVAILABLE'],
        ['ADMIN', `clear ${otherVhost.name}/ops-rest`, 'ok'],
        ['ADMIN', `clear ${otherVhost.name}/ops-rest`, 'HERALD_ERR_NOT_FOUND'],
        ['cli', `set ${otherVhost.name}/ops-cli`, 'ok'],
        ['cli', `clear ${otherVhost.name}/ops-cli`, 'ok'],
        ['cli', `clear ${otherVhost.name}/ops-cli`, 'HERALD_ERR_NOT_FOUND'],
        ['cli', `set ${otherVhost.name}/ops-cli`, 'HERALD_ERR_VALIDATION'],
      ])
      const details = await sql<{ detail: string | null }>`select detail from audit_entry where action like 'catalog.shovel.%'`.execute(herald.ctx.db)
      expect(details.rows.some((r) => r.detail?.includes('s3cret'))).toBe(false)
    } finally {
      for (const name of ['ops-rest', 'ops-cli']) await clearShovel(otherVhost.name, name).catch(() => {})
    }
  }, CLI_TIMEOUT)

  it('reads products, requests and counters through the CLI as through REST, EXPLOIT included; an unknown product exits 3', async () => {
    const urn = await blockingProduct()
    const product = await cli('product', '--tenant', TENANT, urn)
    expect([product.code, JSON.parse(product.stdout)]).toEqual([0, (await rest('GET', `/products/${urn}`, { role: 'EXPLOIT' })).json()])
    const listed = JSON.parse((await cli('products', '--tenant', TENANT, '--urn', urn)).stdout)
    expect(listed.items.map((p: { urn: string }) => p.urn)).toEqual([urn])
    expect((await cli('product', '--tenant', TENANT, `URN:FEATURE:DATA:${TENANT}:${randomUUID()}:V1`)).code).toBe(3)
    expect((await cli('products', '--tenant', TENANT, '--status', 'SOMETIMES')).code).toBe(2)
    expect(JSON.parse((await cli('requests', '--tenant', TENANT, '--state', 'SUCCESS', '--limit', '1')).stdout).items).toHaveLength(1)
    expect((await cli('requests', '--tenant', TENANT, '--state', 'DONE')).code).toBe(2)
    expect(JSON.parse((await cli('counters', '--tenant', TENANT)).stdout)).toEqual((await rest('GET', '/catalog/counters', { role: 'EXPLOIT' })).json())
  }, CLI_TIMEOUT)
})
