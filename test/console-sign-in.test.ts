import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSignInCode } from '../src/console-sessions/sign-in-code.ts'
import { luceneRule, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const run = promisify(execFile)
const repoRoot = path.resolve(import.meta.dirname, '..')

for (const backend of BACKENDS) {
  describe(`${backend}: console sign-in by one-time code`, () => {
    let f: HttpFixture
    beforeAll(async () => {
      f = await startHttpFixture(backend, { env: { HERALD_TENANTS: 'project1,project2' } })
    })
    afterAll(async () => {
      await f?.close()
    })

    const code = (tenant = 'project1', role: 'ADMIN' | 'EXPLOIT' = 'ADMIN', now = Date.now()) =>
      createSignInCode(f.keys.hs256, { tenant, role, subject: 'alice' }, now)
    const signIn = (c: string) => f.call('POST', '/api/v1/console/sign-in', { as: null, body: { code: c } })
    const withSession = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string) =>
      f.app.inject({ method, url, headers: { authorization: `Bearer ${token}` } })

    it('opens a session once per code; the session is a bearer token of its tenant and role', async () => {
      const c = code()
      const first = await signIn(c)
      expect(first.statusCode).toBe(200)
      const session = first.json()
      expect(session).toMatchObject({ tenant: 'project1', role: 'ADMIN', subject: 'alice', token: expect.stringMatching(/^hcs_/) })
      expect(Date.parse(session.expiresAt) - Date.now()).toBeGreaterThan(11 * 3600_000)
      expect((await withSession('GET', '/api/v1/recipients', session.token)).statusCode).toBe(200)

      const again = await signIn(c)
      expect([again.statusCode, again.json().code]).toEqual([401, 'HERALD_ERR_SIGN_IN_REFUSED'])
      expect(again.json().detail).toMatch(/already used/)
    })

    it('refuses an expired, a forged, a truncated code and one of a tenant this Herald does not serve', async () => {
      const expired = await signIn(code('project1', 'ADMIN', Date.now() - 301_000))
      expect([expired.statusCode, expired.json().detail]).toEqual([401, expect.stringMatching(/expired/)])
      const [body, mac] = code().split('.')
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
      const forgedBody = Buffer.from(JSON.stringify({ ...claims, role: 'ADMIN', tenant: 'project2' })).toString('base64url')
      const forged = await signIn(`${forgedBody}.${mac}`)
      expect([forged.statusCode, forged.json().detail]).toEqual([401, expect.stringMatching(/not issued by this Herald/)])
      expect((await signIn(body)).statusCode).toBe(401)
      expect((await signIn('')).statusCode).toBe(400)
      const foreign = await signIn(code('project9'))
      expect([foreign.statusCode, foreign.json().code]).toEqual([403, 'HERALD_ERR_TENANT_NOT_ACCEPTED'])
    })

    it('gives EXPLOIT read and retry only, keeps each session in its tenant, and ends it at sign-out', async () => {
      const exploit = (await signIn(code('project1', 'EXPLOIT'))).json().token
      expect((await withSession('GET', '/api/v1/requests', exploit)).statusCode).toBe(200)
      expect((await withSession('DELETE', '/api/v1/rules/any', exploit)).statusCode).toBe(403)

      const other = (await signIn(code('project2'))).json().token
      expect((await f.call('POST', '/api/v1/rules', { body: luceneRule('only-in-project1', 'action:CREATED', []) })).statusCode).toBe(201)
      expect((await withSession('GET', '/api/v1/rules/only-in-project1', exploit)).statusCode).toBe(200)
      expect((await withSession('GET', '/api/v1/rules/only-in-project1', other)).statusCode).toBe(404)

      expect((await withSession('POST', '/api/v1/console/sign-out', exploit)).statusCode).toBe(204)
      const after = await withSession('GET', '/api/v1/requests', exploit)
      expect([after.statusCode, after.json().detail]).toEqual([401, expect.stringMatching(/session has ended/)])
      expect((await withSession('GET', '/api/v1/requests', `hcs_${'x'.repeat(43)}`)).statusCode).toBe(401)
    })

    it('streams the request changes of the session’s tenant only, and ends the stream at sign-out', async () => {
      const address = await f.app.listen({ host: '127.0.0.1', port: 0 })
      const token = (await signIn(code('project1', 'EXPLOIT'))).json().token
      expect((await fetch(`${address}/api/v1/console/events`)).status).toBe(401)
      expect((await fetch(`${address}/api/v1/console/events`, { headers: { authorization: `Bearer hcs_${'x'.repeat(43)}` } })).status).toBe(401)
      const res = await fetch(`${address}/api/v1/console/events`, { headers: { authorization: `Bearer ${token}` } })
      expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8'])
      const events: { event: string; data: any }[] = []
      const reading = (async () => {
        let buffer = ''
        for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
          buffer += chunk
          for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, cut)
            buffer = buffer.slice(cut + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            if (event) events.push({ event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]) })
          }
        }
      })()
      await waitFor(() => events.some((e) => e.event === 'ready'), 'the stream to open', { timeoutMs: 10_000 })
      const client = new RegardsClient(f.vhost.url)
      try {
        // No rule matches them: each is registered, then completed at once.
        await client.publishRequest({ tenant: 'project2', requestId: 'other-tenant-req', owner: 'o', body: { payload: {}, metadata: {} } })
        await client.publishRequest({ tenant: 'project1', requestId: 'own-tenant-req', owner: 'o', body: { payload: {}, metadata: {} } })
        const seen = () => events.filter((e) => e.event === 'requests').flatMap((e) => e.data)
        await waitFor(() => seen().some((c) => c.requestId === 'own-tenant-req' && c.state === 'SUCCESS'), 'the completion event', { timeoutMs: 20_000 })
        expect(seen().map((c) => c.requestId)).not.toContain('other-tenant-req')
      } finally {
        await client.close()
      }
      expect((await withSession('POST', '/api/v1/console/sign-out', token)).statusCode).toBe(204)
      await reading
      expect(events.at(-1)).toEqual({ event: 'end', data: { reason: 'the session has ended' } })
    })

    it('herald console prints a link whose code sits in the fragment, never in the path or query', async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'console', '--tenant', 'project1', '--role', 'EXPLOIT', '--subject', 'bob'], {
        cwd: repoRoot,
        env: { ...process.env, HERALD_DATA_DIR: f.storage.dataDir, HERALD_HTTP_PORT: '9123' },
      })
      const url = new URL(stdout.trim())
      expect(`${url.origin}${url.pathname}${url.search}`).toBe('http://127.0.0.1:9123/console/sign-in')
      const printed = /^#code=(.+)$/.exec(url.hash)![1]
      const answer = await signIn(printed)
      expect(answer.json()).toMatchObject({ tenant: 'project1', role: 'EXPLOIT', subject: 'bob' })
    })
  })
}
