import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../src/http/auth.ts'
import { recipientsDeactivate } from '../src/ops/recipients-deactivate.ts'
import { recipientsList } from '../src/ops/recipients-list.ts'
import type { Principal } from '../src/ops/principal.ts'
import { rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

/**
 * Every recipient action is one operation of src/ops, and REST and the CLI answer its refusals alike: not
 * found (404 / exit 3), conflict (409 / exit 4), invalid (400 / exit 2), forbidden (403 / exit 5). The CLI
 * runs beside the running Herald on PostgreSQL only: PGlite's directory is one process's at a time.
 */
for (const backend of BACKENDS) {
  describe(`${backend}: recipient operations through REST and the CLI`, () => {
    let f: HttpFixture
    const as = (role: string, sub = 'alice'): { headers: Record<string, string>; as: null } => ({
      as: null,
      headers: { authorization: `Bearer ${signToken(f.keys.hs256, { tenant: TENANT, role, sub }, 3600)}` },
    })
    const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, role = 'ADMIN', body?: unknown) => f.call(method, `/api/v1${url}`, { ...as(role), body })
    const herald = (args: string[], input?: string, env: Record<string, string> = {}) => runHerald(['recipients', ...args], { env: cliEnv(f.storage, f.vhost.url, env), input })
    const audit = async (action: string, target: string) =>
      (await sql<{ subject: string | null; role: string; action: string; target: string; outcome: string }>`select subject, role, action, target, outcome
        from audit_entry where tenant = ${TENANT} and action = ${action} and target = ${target} order by id`.execute(f.herald.ctx.db)).rows
    /** A delivery waiting for `businessId`, as the notifier leaves one while its recipient is parked. */
    // A request SCHEDULED with its delivery, in one statement: a request alone (GRANTED, no delivery yet)
    // is matched and completed by the running maintenance before its delivery could be inserted.
    const waitingDelivery = async (businessId: string) => {
      await sql`with request as (
          insert into notification_request (tenant, request_id, request_owner, request_date, not_before, mode, state, payload, metadata)
          values (${TENANT}, ${`waiting-for-${businessId}`}, 'ops', now(), now(), 'RULES', 'SCHEDULED', '{}', '{}') returning id
        )
        insert into delivery (tenant, request_pk, recipient_id, state, request_date)
        select ${TENANT}, request.id, c.id, 'PENDING', now() from request, plugin_configuration c where c.tenant = ${TENANT} and c.business_id = ${businessId}`.execute(f.herald.ctx.db)
    }

    beforeAll(async () => {
      f = await startHttpFixture(backend)
      for (const id of ['parkable', 'plain']) expect((await call('POST', '/recipients', 'ADMIN', rabbitRecipient(id))).statusCode).toBe(201)
    })
    afterAll(async () => {
      await f?.close()
    })

    it('refuses through REST: unknown recipient 404, bad body 400 naming the member, EXPLOIT changing a recipient 403', async () => {
      const missing = await call('GET', '/recipients/ghost', 'EXPLOIT')
      expect([missing.statusCode, missing.json()]).toEqual([404, expect.objectContaining({ code: 'HERALD_ERR_NOT_FOUND', detail: 'no recipient ghost' })])
      for (const action of ['park', 'unpark', 'activate', 'deactivate', 'test']) expect((await call('POST', `/recipients/ghost/${action}`)).statusCode).toBe(404)
      expect((await call('DELETE', '/recipients/ghost')).statusCode).toBe(404)
      const bad = await call('POST', '/recipients', 'ADMIN', { businessId: 'bad', pluginId: 'RabbitMQSender', parameters: [] })
      expect([bad.statusCode, bad.json().code]).toEqual([400, 'HERALD_ERR_VALIDATION'])
      expect(bad.json().detail).toMatch(/label/)
      const badReason = await call('POST', '/recipients/plain/park', 'ADMIN', { reason: 42 })
      expect([badReason.statusCode, badReason.json().detail]).toEqual([400, expect.stringMatching(/reason/)])
      const { businessId: _, ...update } = rabbitRecipient('plain')
      for (const [method, url, body] of [
        ['POST', '/recipients/plain/park', undefined],
        ['POST', '/recipients/plain/deactivate', undefined],
        ['POST', '/recipients/plain/test', undefined],
        ['PUT', '/recipients/plain', update],
        ['DELETE', '/recipients/plain', undefined],
        ['POST', '/recipients', rabbitRecipient('by-exploit')],
      ] as const) {
        const refused = await call(method, url, 'EXPLOIT', body)
        expect([method, url, refused.statusCode, refused.json().code]).toEqual([method, url, 403, 'HERALD_ERR_FORBIDDEN'])
      }
      expect((await call('GET', '/recipients/plain', 'EXPLOIT')).json()).toMatchObject({ active: true, state: { parked: false } })
    })

    it('the operation itself refuses EXPLOIT a change, and the audit trail records the refusal', async () => {
      const exploit: Principal = { tenant: TENANT, role: 'EXPLOIT', subject: 'bob' }
      await expect(recipientsDeactivate(f.herald.ctx, exploit, { businessId: 'plain' })).rejects.toMatchObject({ code: 'HERALD_ERR_FORBIDDEN' })
      expect(await audit('recipients.deactivate', 'plain')).toContainEqual({ subject: 'bob', role: 'EXPLOIT', action: 'recipients.deactivate', target: 'plain', outcome: 'HERALD_ERR_FORBIDDEN' })
      // Another tenant's principal sees only its own recipients, whatever it asks for.
      expect((await recipientsList(f.herald.ctx, { tenant: 'other', role: 'ADMIN', subject: 'eve' }, {})).items).toEqual([])
    })

    it('parks through REST with a reason, shown by GET; a delete is refused while deliveries wait (409 naming why); both audited', async () => {
      const parked = await call('POST', '/recipients/parkable/park', 'ADMIN', { reason: 'partner maintenance until 18:00' })
      expect([parked.statusCode, parked.json().state]).toEqual([200, expect.objectContaining({ parked: true, parkedReason: 'partner maintenance until 18:00' })])
      await waitingDelivery('parkable')
      expect((await call('GET', '/recipients/parkable', 'EXPLOIT')).json().state).toMatchObject({ parked: true, backlog: 1 })
      const busy = await call('DELETE', '/recipients/parkable')
      expect([busy.statusCode, busy.json().code, busy.json().detail]).toEqual([409, 'HERALD_ERR_RECIPIENT_BUSY', expect.stringMatching(/parkable has 1 deliveries waiting or in progress/)])
      expect(await audit('recipients.park', 'parkable')).toEqual([{ subject: 'alice', role: 'ADMIN', action: 'recipients.park', target: 'parkable', outcome: 'ok' }])
      expect(await audit('recipients.delete', 'parkable')).toEqual([{ subject: 'alice', role: 'ADMIN', action: 'recipients.delete', target: 'parkable', outcome: 'HERALD_ERR_RECIPIENT_BUSY' }])
      // The console posts park and unpark without a body.
      expect((await f.call('POST', '/api/v1/recipients/plain/park', { as: [TENANT, 'ADMIN'] })).json().state).toMatchObject({ parked: true, parkedReason: 'parked by an operator (herald-cli)' })
      expect((await f.call('POST', '/api/v1/recipients/plain/unpark', { as: [TENANT, 'ADMIN'] })).json().state).toMatchObject({ parked: false })
    })

    it('audits a test send: it reaches the outside with the recipient\'s secrets', async () => {
      const tested = await call('POST', '/recipients/plain/test', 'ADMIN')
      expect([tested.statusCode, tested.json()]).toEqual([200, expect.objectContaining({ businessId: 'plain', delivered: true, sample: 'built-in' })])
      // EXPLOIT's attempt of the first test, refused by the route's role check, is recorded too.
      expect(await audit('recipients.test', 'plain')).toEqual([
        { subject: 'alice', role: 'EXPLOIT', action: 'recipients.test', target: 'plain', outcome: 'HERALD_ERR_FORBIDDEN' },
        { subject: 'alice', role: 'ADMIN', action: 'recipients.test', target: 'plain', outcome: 'ok' },
      ])
    })

    it.runIf(backend === 'postgres')('the CLI answers the same refusals with their exit codes, and unparks what REST parked: the backlog drains', { timeout: 600_000 }, async () => {
      const missing = await herald(['show', '--tenant', TENANT, 'ghost'])
      expect([missing.code, missing.stderr]).toEqual([3, 'herald: no recipient ghost (HERALD_ERR_NOT_FOUND)\n'])
      const busy = await herald(['delete', '--tenant', TENANT, 'parkable'])
      expect([busy.code, busy.stderr]).toEqual([4, expect.stringMatching(/^herald: recipient parkable has 1 deliveries waiting or in progress: .* \(HERALD_ERR_RECIPIENT_BUSY\)\n$/)])
      const invalid = await herald(['create', '--tenant', TENANT], JSON.stringify({ businessId: 'from-cli', pluginId: 'RabbitMQSender', label: 'x', parameters: [], colour: 'red' }))
      expect([invalid.code, invalid.stderr]).toEqual([2, expect.stringMatching(/^herald: body: must not have additional properties \(colour\) \(HERALD_ERR_VALIDATION\)\n$/)])
      const malformed = await herald(['create', '--tenant', TENANT], '{"businessId":')
      expect([malformed.code, malformed.stderr]).toEqual([2, expect.stringMatching(/^herald: stdin is not JSON: .* \(HERALD_ERR_MALFORMED_JSON\)\n$/)])
      // The CLI speaks as ADMIN of the tenant it names, and acts in that tenant only; a tenant this Herald
      // does not serve is refused as REST refuses its token.
      expect((await herald(['deactivate', '--tenant', 'elsewhere', 'plain'])).code).toBe(3)
      const forbidden = await herald(['deactivate', '--tenant', 'elsewhere', 'plain'], undefined, { HERALD_TENANTS: TENANT })
      expect([forbidden.code, forbidden.stderr]).toEqual([5, expect.stringMatching(/HERALD_ERR_TENANT_NOT_ACCEPTED/)])

      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-recipient-')), 'recipient.json')
      fs.writeFileSync(file, JSON.stringify({ ...rabbitRecipient('from-cli'), active: false }))
      const created = await herald(['create', '--tenant', TENANT, '--file', file])
      expect([created.code, created.stdout]).toEqual([0, expect.stringMatching(/^recipient from-cli created \(RabbitMQSender\)/)])
      expect((await call('GET', '/recipients/from-cli', 'EXPLOIT')).json()).toMatchObject({ active: false, label: 'recipient from-cli' })
      const cli = { subject: `cli:${os.userInfo().username}`, role: 'ADMIN', action: 'recipients.create', target: 'from-cli' }
      expect(await audit('recipients.create', 'from-cli')).toEqual([{ ...cli, outcome: 'HERALD_ERR_VALIDATION' }, { ...cli, outcome: 'ok' }])

      const unparked = await herald(['unpark', '--tenant', TENANT, 'parkable'])
      expect([unparked.code, unparked.stdout]).toEqual([0, expect.stringMatching(/^recipient parkable unparked/)])
      await waitFor(async () => {
        const { state } = (await call('GET', '/recipients/parkable', 'EXPLOIT')).json()
        return !state.parked && state.backlog === 0 && state.sending === 0
      }, 'the unparked backlog to drain', { timeoutMs: 30_000 })
      const shown = JSON.parse((await herald(['show', '--tenant', TENANT, 'parkable'])).stdout)
      expect(shown).toMatchObject({ businessId: 'parkable', state: { parked: false, backlog: 0 } })
      const deleted = await herald(['delete', '--tenant', TENANT, 'parkable'])
      expect([deleted.code, deleted.stdout]).toEqual([0, 'recipient parkable deleted (0 deliveries dropped, 0 requests completed)\n'])
      expect((await call('GET', '/recipients/parkable', 'EXPLOIT')).statusCode).toBe(404)
    })
  })
}
