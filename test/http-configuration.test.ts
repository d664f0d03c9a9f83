import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openParameters } from '../src/secrets/secret-parameters.ts'
import type { PluginParameter } from '../src/senders/sender.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { luceneRule, param, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const MASK = '********'

for (const backend of BACKENDS) {
  describe(`${backend}: recipients, rules and configuration through the API`, () => {
    let f: HttpFixture
    let client: RegardsClient
    const received: AsyncMessage[] = []
    /** The stored parameters, secrets opened (they are sealed in the database). */
    const storedParameters = async (businessId: string) => {
      const { rows } = await sql<{ tenant: string; plugin_id: string; parameters: PluginParameter[] }>`select tenant, plugin_id, parameters
        from plugin_configuration where business_id = ${businessId}`.execute(f.herald.ctx.db)
      const row = rows[0]
      if (!row) return {}
      const clear = openParameters(f.herald.ctx.secrets, { tenant: row.tenant, businessId, pluginId: row.plugin_id }, row.parameters)
      return Object.fromEntries(clear.map((p) => [p.name, p.value]))
    }

    /** A request already matched to `recipient`: its delivery waits in PENDING (as if matched before a deactivation). */
    async function seedPendingDelivery(recipient: string): Promise<string> {
      const requestId = randomUUID()
      const db = f.herald.ctx.db
      const { rows } = await sql<{ id: number }>`insert into notification_request (tenant, request_id, request_owner, request_date, not_before, mode, state, payload, metadata)
        values ('project1', ${requestId}, 'test', now() - interval '1 minute', now(), 'RULES', 'SCHEDULED', ${JSON.stringify({ id: requestId })}::jsonb, '{"action":"X"}') returning id`.execute(db)
      await sql`insert into delivery (tenant, request_pk, recipient_id, state, request_date)
        select 'project1', ${rows[0].id}, id, 'PENDING', now() - interval '1 minute' from plugin_configuration where tenant = 'project1' and business_id = ${recipient}`.execute(db)
      return requestId
    }

    beforeAll(async () => {
      f = await startHttpFixture(backend)
      client = new RegardsClient(f.vhost.url)
      await client.rabbit.exchangeDeclare({ exchange: 'ext.live', type: 'fanout', durable: true })
      await client.rabbit.queueDeclare({ queue: 'ext.live.q', durable: true, arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': 'regards.DLX', 'x-dead-letter-routing-key': 'regards.DLQ' } })
      await client.rabbit.queueBind({ queue: 'ext.live.q', exchange: 'ext.live', routingKey: '' })
      await client.collect('ext.live.q', received)
    })
    afterAll(async () => {
      await client?.close()
      await f?.close()
    })

    it('creates, reads, lists, filters and pages recipients', async () => {
      const created = await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient('direct-1', { directNotificationEnabled: true, description: 'first' }) })
      expect(created.statusCode).toBe(201)
      expect(created.json()).toMatchObject({
        businessId: 'direct-1',
        pluginId: 'RabbitMQSender',
        active: true,
        recipientLabel: 'direct-1',
        description: 'first',
        directNotificationEnabled: true,
        state: { backlog: 0, sending: 0, errors: 0, oldestWaitingSeconds: 0, lastError: null },
      })
      for (const id of ['plain-1', 'plain-2']) expect((await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient(id) })).statusCode).toBe(201)
      const generated = await f.call('POST', '/api/v1/recipients', { body: { ...rabbitRecipient('x'), businessId: undefined } })
      expect(generated.json().businessId).toMatch(/^[0-9a-f-]{36}$/)
      expect((await f.call('DELETE', `/api/v1/recipients/${generated.json().businessId}`)).statusCode).toBe(200)

      const ids = async (query: string) => (await f.call('GET', `/api/v1/recipients${query}`, { as: ['project1', 'EXPLOIT'] })).json().items.map((r: any) => r.businessId)
      expect(await ids('')).toEqual(['direct-1', 'plain-1', 'plain-2'])
      expect(await ids('?directNotificationEnabled=true')).toEqual(['direct-1'])
      expect(await ids('?directNotificationEnabled=false')).toEqual(['plain-1', 'plain-2'])
      const first = (await f.call('GET', '/api/v1/recipients?limit=2')).json()
      expect(first.items.map((r: any) => r.businessId)).toEqual(['direct-1', 'plain-1'])
      const second = (await f.call('GET', `/api/v1/recipients?limit=2&cursor=${first.nextCursor}`)).json()
      expect(second).toEqual({ items: [expect.objectContaining({ businessId: 'plain-2' })] })
      expect((await f.call('GET', '/api/v1/recipients/plain-1')).json().label).toBe('recipient plain-1')
    })

    it('refuses duplicates (409), unknown plugins, rule plugins and invalid parameters (400)', async () => {
      const dup = await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient('plain-1') })
      expect([dup.statusCode, dup.json().code]).toEqual([409, 'HERALD_ERR_ALREADY_EXISTS'])
      const unknown = await f.call('POST', '/api/v1/recipients', { body: { ...rabbitRecipient('y'), pluginId: 'CarrierPigeon' } })
      expect([unknown.statusCode, unknown.json().code]).toEqual([400, 'HERALD_ERR_INVALID_CONFIGURATION'])
      expect(unknown.json().errors[0]).toMatch(/unknown plugin id CarrierPigeon/)
      const rule = await f.call('POST', '/api/v1/recipients', { body: { ...rabbitRecipient('y'), pluginId: 'LuceneRuleMatcher' } })
      expect(rule.json().detail).toMatch(/rule matcher, not a recipient/)
      const invalid = await f.call('POST', '/api/v1/recipients', { body: { businessId: 'y', pluginId: 'RabbitMQSender', label: 'y', parameters: [param('blockingRequired', true)] } })
      expect(invalid.json().errors).toEqual(expect.arrayContaining([expect.stringMatching(/exchange is mandatory/), expect.stringMatching(/blockingRequired=true requires ackRequired/)]))
      expect((await f.call('PUT', '/api/v1/recipients/nope', { body: { pluginId: 'RabbitMQSender', label: 'n', parameters: [param('exchange', 'e')] } })).statusCode).toBe(404)
    })

    it('never returns secrets (sensitive parameters, URL passwords), and keeps them when an update sends the mask back', async () => {
      const body = {
        businessId: 'secretive',
        pluginId: 'WebhookSender',
        label: 'recipient secretive',
        parameters: [param('url', 'https://user:pa55@partner.example/hook'), param('secrets', 'hunter2,tok-123'), param('recipientLabel', 'secretive')],
      }
      const created = (await f.call('POST', '/api/v1/recipients', { body })).json()
      const shown = JSON.stringify(created)
      for (const secret of ['hunter2', 'tok-123', 'pa55']) expect(shown).not.toContain(secret)
      const params = Object.fromEntries(created.parameters.map((p: any) => [p.name, p.value]))
      expect(params).toMatchObject({ secrets: MASK, url: `https://user:${MASK}@partner.example/hook`, recipientLabel: 'secretive' })
      for (const url of ['/api/v1/recipients', '/api/v1/recipients/secretive', '/api/v1/configuration']) {
        const text = (await f.call('GET', url)).body
        for (const secret of ['hunter2', 'tok-123', 'pa55']) expect([url, text.includes(secret)]).toEqual([url, false])
      }
      // GET, change the label, PUT everything back: the masked secrets keep their stored values.
      const { businessId: _id, state: _s, updatedAt: _u, recipientLabel: _l, description: _d, directNotificationEnabled: _n, ackRequired: _a, blockingRequired: _b, ...editable } = created
      const updated = await f.call('PUT', '/api/v1/recipients/secretive', { body: { ...editable, label: 'renamed' } })
      expect(updated.statusCode).toBe(200)
      expect(await storedParameters('secretive')).toMatchObject({ secrets: 'hunter2,tok-123', url: 'https://user:pa55@partner.example/hook' })
      // A new value replaces the secret; the mask for a secret never stored is refused.
      const changed = editable.parameters.map((p: any) => (p.name === 'secrets' ? { ...p, value: 'new-pass' } : p))
      await f.call('PUT', '/api/v1/recipients/secretive', { body: { ...editable, parameters: changed } })
      expect((await storedParameters('secretive')).secrets).toBe('new-pass')
      const bogus = await f.call('POST', '/api/v1/recipients', { body: { ...body, businessId: 'masked', parameters: [param('url', 'https://partner.example/hook'), param('secrets', MASK)] } })
      expect([bogus.statusCode, bogus.json().detail]).toEqual([400, expect.stringMatching(/secret mask/)])
    })

    it('manages rules with their recipients', async () => {
      const created = await f.call('POST', '/api/v1/rules', { body: luceneRule('live-rule', 'action:CREATED', ['plain-1', 'direct-1']) })
      expect(created.statusCode).toBe(201)
      expect(created.json()).toMatchObject({ businessId: 'live-rule', pluginId: 'LuceneRuleMatcher', recipients: ['direct-1', 'plain-1'], active: true })
      const unknown = await f.call('POST', '/api/v1/rules', { body: luceneRule('bad-rule', 'action:CREATED', ['ghost']) })
      expect([unknown.statusCode, unknown.json().errors]).toEqual([400, [expect.stringMatching(/Unknown RECIPIENT plugin business id ghost/)]])
      expect((await f.call('GET', '/api/v1/rules/bad-rule')).statusCode).toBe(404)
      const { businessId: _b, ...update } = luceneRule('live-rule', 'action:UPDATED', ['plain-2'])
      expect((await f.call('PUT', '/api/v1/rules/live-rule', { body: update })).json()).toMatchObject({ recipients: ['plain-2'], parameters: [{ name: 'metadata_rule', value: 'action:UPDATED' }] })
      expect((await f.call('GET', '/api/v1/rules', { as: ['project1', 'EXPLOIT'] })).json().items.map((r: any) => [r.businessId, r.recipients])).toEqual([['live-rule', ['plain-2']]])
      expect((await f.call('PUT', '/api/v1/rules/plain-1', { body: update })).statusCode).toBe(404)
      expect((await f.call('DELETE', '/api/v1/rules/live-rule')).statusCode).toBe(204)
      expect((await f.call('DELETE', '/api/v1/rules/live-rule')).statusCode).toBe(404)
    })

    it('holds deliveries of a deactivated recipient (backlog visible), delivers on activation, refuses deletion while busy', async () => {
      expect((await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient('live', { exchange: 'ext.live' }) })).statusCode).toBe(201)
      const off = await f.call('POST', '/api/v1/recipients/live/deactivate')
      expect(off.json().active).toBe(false)
      const requestId = await seedPendingDelivery('live')
      await new Promise((r) => setTimeout(r, 600))
      const state = (await f.call('GET', '/api/v1/recipients/live')).json().state
      expect(state).toMatchObject({ backlog: 1, sending: 0 })
      expect(state.oldestWaitingSeconds).toBeGreaterThanOrEqual(59)
      const metrics = (await f.call('GET', '/metrics', { as: null })).body
      expect(metrics).toMatch(/herald_recipient_backlog\{tenant="project1",recipient="live"\} 1/)

      const refused = await f.call('DELETE', '/api/v1/recipients/live')
      expect([refused.statusCode, refused.json().code, refused.json().deliveries]).toEqual([409, 'HERALD_ERR_RECIPIENT_BUSY', 1])
      expect(received).toHaveLength(0)

      expect((await f.call('POST', '/api/v1/recipients/live/activate')).json().active).toBe(true)
      await waitFor(() => received.length === 1, 'delivery after activation', { timeoutMs: 15_000 })
      // The request completes once its delivery is recorded: from then on the recipient has nothing in progress.
      await waitFor(async () => (await f.call('GET', `/api/v1/requests/${requestId}`)).json().state === 'SUCCESS', 'request completed', { timeoutMs: 15_000 })
      expect((await f.call('DELETE', '/api/v1/recipients/live')).json()).toEqual({ businessId: 'live', droppedDeliveries: 0, completedRequests: 0 })
    })

    it('drops the waiting deliveries of a recipient deleted with force=true and completes their requests', async () => {
      expect((await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient('doomed', { exchange: 'ext.doomed' }) })).statusCode).toBe(201)
      await f.call('POST', '/api/v1/recipients/doomed/deactivate')
      await client.listenToEvents()
      const requestId = await seedPendingDelivery('doomed')
      expect((await f.call('GET', '/api/v1/recipients/doomed')).json().state.backlog).toBe(1)
      const deleted = await f.call('DELETE', '/api/v1/recipients/doomed?force=true')
      expect(deleted.json()).toEqual({ businessId: 'doomed', droppedDeliveries: 1, completedRequests: 1 })
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'completion event', { timeoutMs: 15_000, wakeOn: client.onMessage })
      expect((await f.call('GET', `/api/v1/requests/${requestId}`)).json()).toMatchObject({ state: 'SUCCESS' })
    })

    it('exports and imports the REGARDS file: 201, 409 with every error, secrets kept across export → import', async () => {
      const exported = await f.call('GET', '/api/v1/configuration', { as: ['project1', 'EXPLOIT'] })
      expect(exported.headers['content-disposition']).toBe('attachment; filename="config-rs-notifier.json"')
      const file = exported.json()
      expect(Object.keys(file)).toEqual(['microservice', 'modules'])
      expect(file.modules[0].module.id).toBe('notifier')
      const imported = await f.call('POST', '/api/v1/configuration', { body: file })
      expect([imported.statusCode, imported.json()]).toEqual([201, expect.objectContaining({ reset: true })])
      expect(await storedParameters('secretive')).toMatchObject({ secrets: 'new-pass', url: 'https://user:pa55@partner.example/hook' })

      const broken = structuredClone(file)
      broken.modules[0].configuration.push(
        { key: 'fr.cnes.regards.framework.modules.plugins.domain.PluginConfiguration', value: { pluginId: 'Nope', businessId: 'nope', label: 'n', parameters: [] } },
        { key: 'fr.cnes.regards.modules.notifier.dto.conf.RuleRecipientsAssociation', value: { ruleId: 'ghost-rule', recipientIds: [] } },
      )
      const rejected = await f.call('POST', '/api/v1/configuration', { body: broken })
      expect([rejected.statusCode, rejected.json().code]).toEqual([409, 'HERALD_ERR_IMPORT_REJECTED'])
      // Every error of the file at once: the bad entry and the association to a rule that does not exist.
      expect(rejected.json().errors).toEqual([expect.stringMatching(/unknown plugin id Nope/), expect.stringMatching(/Unknown RULE plugin business id ghost-rule/)])
      expect((await f.call('GET', '/api/v1/recipients')).json().items.map((r: any) => r.businessId)).toContain('secretive')
      expect((await f.call('POST', '/api/v1/configuration', { body: { modules: 'x' } })).statusCode).toBe(400)
    })
  })
}
