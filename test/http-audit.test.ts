import os from 'node:os'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../src/http/auth.ts'
import { savePlugin } from '../src/notifier/plugin-configurations.ts'
import { param, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { BACKENDS, createTestStorage, storageSecrets, type TestStorage } from './support/services.ts'

const CLI_SUBJECT = `cli:${os.userInfo().username}`

for (const backend of BACKENDS) {
  describe(`${backend}: the audit trail through the API and the CLI`, () => {
    let storage: TestStorage
    let f: HttpFixture | undefined
    let started: Date
    let env: NodeJS.ProcessEnv
    const herald = (...args: string[]) => runHerald(args, { env, timeoutMs: 60_000 })
    const as = (tenant: string, role: string, sub: string) => ({
      as: null,
      headers: { authorization: `Bearer ${signToken(f!.keys.hs256, { tenant, role, sub }, 600)}` },
    })
    const audit = (query = '', tenant = 't1') => f!.call('GET', `/api/v1/audit${query}`, as(tenant, 'ADMIN', 'auditor'))

    /** What each change below leaves in t1's trail, newest first. */
    const expected = [
      { subject: CLI_SUBJECT, role: 'ADMIN', tenant: 't1', action: 'requests.delete', target: 'no-such-request', outcome: 'HERALD_ERR_NOT_FOUND' },
      { subject: CLI_SUBJECT, role: 'ADMIN', tenant: 't1', action: 'requests.retry', target: 'aud-req-2', outcome: 'ok' },
      { subject: 'eve', role: 'EXPLOIT', tenant: 't1', action: 'requests.retry', target: 'no-such-request', outcome: 'HERALD_ERR_NOT_FOUND' },
      { subject: 'eve', role: 'EXPLOIT', tenant: 't1', action: 'requests.retry', target: 'aud-req-1', outcome: 'ok' },
    ]

    beforeAll(async () => {
      storage = await createTestStorage(backend)
      started = new Date()
      // First through REST, with Herald running; PGlite's directory is then left to the CLI, so Herald stops.
      f = await startHttpFixture(backend, { storage })
      env = cliEnv(storage, f.vhost.url, { HERALD_TENANTS: 't1,t2' })
      const db = f.herald.ctx.db
      for (const tenant of ['t1', 't2']) {
        await savePlugin(db, storageSecrets(storage), tenant, 'RECIPIENT', 'aud-a', { pluginId: 'RabbitMQSender', label: 'aud-a', parameters: [param('exchange', 'ext.aud-a')] }, 'create')
      }
      for (const [tenant, requestId] of [['t1', 'aud-req-1'], ['t1', 'aud-req-2'], ['t2', 'aud-req-t2']]) {
        const { rows } = await sql<{ id: number }>`insert into notification_request (tenant, request_id, request_owner, request_date, not_before, mode, state, payload, metadata)
          values (${tenant}, ${requestId}, 'ops', now(), now(), 'RULES', 'ERROR', '{}', '{}') returning id`.execute(db)
        await sql`insert into delivery (tenant, request_pk, recipient_id, state, request_date, attempts, last_error)
          select ${tenant}, ${rows[0].id}, id, 'ERROR', now(), 5, 'refused' from plugin_configuration where tenant = ${tenant} and business_id = 'aud-a'`.execute(db)
      }
      const retried = await f.call('POST', '/api/v1/requests/aud-req-1/retry', as('t1', 'EXPLOIT', 'eve'))
      expect(retried.json()).toMatchObject({ requests: 1, deliveries: 1 })
      expect((await f.call('POST', '/api/v1/requests/no-such-request/retry', as('t1', 'EXPLOIT', 'eve'))).statusCode).toBe(404)
      expect((await f.call('DELETE', '/api/v1/requests/aud-req-t2', as('t2', 'ADMIN', 'mallory'))).statusCode).toBe(204)
      await f.close()
      f = undefined
      // Then through the CLI.
      expect((await herald('requests', 'retry', '--tenant', 't1', 'aud-req-2')).code).toBe(0)
      expect((await herald('requests', 'delete', '--tenant', 't1', 'no-such-request')).code).toBe(3)
    }, 300_000)
    afterAll(async () => {
      await f?.close()
      await storage?.drop()
    })

    it('herald audit list: newest first, the tenant’s own entries only, filtered, as a table or JSON lines', async () => {
      const json = await herald('audit', 'list', '--tenant', 't1', '--json')
      expect(json.code).toBe(0)
      const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l))
      expect(entries).toEqual(expected.map((e) => ({ ...e, at: expect.any(String), detail: e.outcome === 'ok' ? null : expect.any(String) })))
      for (const e of entries) expect(new Date(e.at).getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000)
      const table = (await herald('audit', 'list', '--tenant', 't1')).stdout.split('\n')
      expect(table[0]).toMatch(/^AT\s+SUBJECT\s+ROLE\s+ACTION\s+TARGET\s+OUTCOME$/)
      expect(table[1]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+${CLI_SUBJECT}\\s+ADMIN\\s+requests\\.delete\\s+no-such-request\\s+HERALD_ERR_NOT_FOUND$`))
      const refused = (await herald('audit', 'list', '--tenant', 't1', '--json', '--outcome', 'HERALD_ERR_NOT_FOUND')).stdout.trim().split('\n')
      expect(refused.map((l) => JSON.parse(l).subject)).toEqual([CLI_SUBJECT, 'eve'])
      const deletes = (await herald('audit', 'list', '--tenant', 't2', '--json', '--action', 'requests.delete')).stdout.trim().split('\n')
      expect(deletes.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ tenant: 't2', subject: 'mallory', target: 'aud-req-t2', outcome: 'ok' })])
    }, 240_000)

    it('herald audit list refuses a bad filter (exit 2) and a tenant this Herald does not serve (exit 5)', async () => {
      const badDate = await herald('audit', 'list', '--tenant', 't1', '--since', 'yesterday')
      expect([badDate.code, badDate.stderr]).toEqual([2, expect.stringMatching(/ISO-8601/)])
      const badAction = await herald('audit', 'list', '--tenant', 't1', '--action', 'requests.destroy')
      expect([badAction.code, badAction.stderr]).toEqual([2, expect.stringMatching(/action must be one of .*requests\.retry.*\(HERALD_ERR_VALIDATION\)/)])
      const stranger = await herald('audit', 'list', '--tenant', 't3')
      expect([stranger.code, stranger.stderr]).toEqual([5, expect.stringMatching(/HERALD_ERR_TENANT_NOT_ACCEPTED/)])
    }, 240_000)

    describe('GET /api/v1/audit', () => {
      beforeAll(async () => {
        f = await startHttpFixture(backend, { storage })
      }, 60_000)

      it('lists the changes made through REST and the CLI, newest first, with who, what, when and how it ended', async () => {
        const res = await audit()
        expect(res.statusCode).toBe(200)
        const { items, nextCursor } = res.json()
        expect(items).toEqual(expected.map((e) => ({ ...e, at: expect.stringMatching(/Z$/), detail: e.outcome === 'ok' ? null : expect.any(String) })))
        expect(nextCursor).toBeUndefined()
        const times = items.map((e: { at: string }) => Date.parse(e.at))
        expect([...times].sort((a, b) => b - a)).toEqual(times)
        expect(times.every((t: number) => t >= started.getTime() - 1000 && t <= Date.now())).toBe(true)
        expect(items[2].detail).toMatch(/no request no-such-request/)
      })

      it('never shows another tenant’s entries', async () => {
        const t2 = (await audit('', 't2')).json().items
        expect(t2).toEqual([expect.objectContaining({ tenant: 't2', subject: 'mallory', role: 'ADMIN', action: 'requests.delete', target: 'aud-req-t2', outcome: 'ok' })])
        const t3 = await audit('', 't3')
        expect([t3.statusCode, t3.json().items]).toEqual([200, []])
        expect((await audit('?subject=mallory')).json().items).toEqual([])
      })

      it('pages with a cursor and filters by action, subject, target, outcome and time', async () => {
        const seen: string[] = []
        let cursor: string | undefined
        for (let page = 0; page < 4; page++) {
          const body = (await audit(`?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json()
          expect(body.items).toHaveLength(1)
          seen.push(`${body.items[0].subject} ${body.items[0].action} ${body.items[0].target}`)
          cursor = body.nextCursor
          expect(cursor === undefined).toBe(page === 3)
        }
        expect(seen).toEqual(expected.map((e) => `${e.subject} ${e.action} ${e.target}`))
        const targets = async (q: string) => (await audit(q)).json().items.map((e: { target: string }) => e.target)
        expect(await targets('?action=requests.delete')).toEqual(['no-such-request'])
        expect(await targets('?subject=eve')).toEqual(['no-such-request', 'aud-req-1'])
        expect(await targets('?target=aud-req-2')).toEqual(['aud-req-2'])
        expect(await targets('?outcome=ok&subject=eve')).toEqual(['aud-req-1'])
        const all = (await audit()).json().items
        expect(await targets(`?since=${all[1].at}`)).toEqual(['no-such-request', 'aud-req-2'])
        expect(await targets(`?until=${all[1].at}`)).toEqual(['no-such-request', 'aud-req-1'])
        expect(await targets(`?since=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([])
      })

      it('refuses a bad filter (400) and any role but ADMIN (403)', async () => {
        for (const q of ['?action=requests.destroy', '?outcome=fine', '?since=yesterday', '?cursor=not-a-cursor', '?limit=0', '?tenant=t2', '?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z']) {
          const res = await audit(q)
          expect([q, res.statusCode, res.headers['content-type']]).toEqual([q, 400, expect.stringMatching(/problem\+json/)])
          expect(res.json().code).toMatch(/^HERALD_ERR_(VALIDATION|BAD_CURSOR)$/)
        }
        const exploit = await f!.call('GET', '/api/v1/audit', as('t1', 'EXPLOIT', 'eve'))
        expect([exploit.statusCode, exploit.json().code]).toEqual([403, 'HERALD_ERR_FORBIDDEN'])
        expect((await f!.call('GET', '/api/v1/audit', { as: null })).statusCode).toBe(401)
      })
    })
  })
}
