import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DLX, NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { EXIT_CODES } from '../src/cli/run-operation.ts'
import { startDeadLetterCollector } from '../src/dead-letters/collector.ts'
import { HeraldError } from '../src/errors.ts'
import { rulesUpdate } from '../src/ops/rules-update.ts'
import { association, configFile, pluginConf } from './support/herald.ts'
import { luceneRule, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const CLI_SUBJECT = `cli:${os.userInfo().username}`
/** The fixture's REST tokens carry signToken's default subject. */
const REST_SUBJECT = 'herald-cli'
// Each CLI run imports the sources (up to ~35 s on this loaded 2-core machine).
const SLOW = 300_000

// The CLI beside a running Herald on the same PostgreSQL (PGlite is one process's): what one transport
// changes, the other sees, and each refusal has its HTTP status and its exit code.
describe('postgres: rules, configuration, dead letters and plugins through REST and the CLI', () => {
  let f: HttpFixture
  let env: NodeJS.ProcessEnv
  let dir: string

  const herald = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => runHerald(args, { env: { ...env, ...opts.env }, input: opts.input, timeoutMs: SLOW })
  const file = (name: string, value: unknown) => {
    const target = path.join(dir, name)
    fs.writeFileSync(target, typeof value === 'string' ? value : JSON.stringify(value))
    return target
  }
  const audit = async (action: string) =>
    (await sql<{ subject: string; role: string; target: string | null; outcome: string }>`select subject, role, target, outcome from audit_entry
      where tenant = ${TENANT} and action = ${action} order by id`.execute(f.herald.ctx.db)).rows

  beforeAll(async () => {
    f = await startHttpFixture('postgres')
    env = cliEnv(f.storage, f.vhost.url)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-config-'))
    for (const id of ['oc-a', 'oc-b']) expect((await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient(id) })).statusCode).toBe(201)
  })
  afterAll(async () => {
    await f?.close()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('creates a rule by the CLI that REST serves, updates it from stdin, deletes it; each change audited', async () => {
    const created = await herald(['rules', 'create', '--tenant', TENANT, '--file', file('rule.json', luceneRule('oc-rule', 'action:CREATED', ['oc-a']))])
    expect([created.code, created.stderr]).toEqual([0, ''])
    expect(JSON.parse(created.stdout)).toMatchObject({ businessId: 'oc-rule', pluginId: 'LuceneRuleMatcher', recipients: ['oc-a'] })
    const served = await f.call('GET', '/api/v1/rules/oc-rule', { as: [TENANT, 'EXPLOIT'] })
    expect([served.statusCode, served.json().recipients]).toEqual([200, ['oc-a']])

    const { businessId: _id, ...update } = luceneRule('oc-rule', 'action:DELETED', ['oc-a', 'oc-b'])
    const updated = await herald(['rules', 'update', '--tenant', TENANT, 'oc-rule'], { input: JSON.stringify(update) })
    expect(updated.code).toBe(0)
    expect((await f.call('GET', '/api/v1/rules/oc-rule')).json()).toMatchObject({ recipients: ['oc-a', 'oc-b'], parameters: [{ name: 'metadata_rule', value: 'action:DELETED' }] })
    const listed = await herald(['rules', 'list', '--tenant', TENANT])
    expect(listed.stdout).toMatch(/^oc-rule\s+LuceneRuleMatcher\s+yes\s+oc-a,oc-b\s+rule oc-rule$/m)
    expect(JSON.parse((await herald(['rules', 'show', '--tenant', TENANT, 'oc-rule'])).stdout)).toEqual((await f.call('GET', '/api/v1/rules/oc-rule')).json())

    expect((await f.call('DELETE', '/api/v1/rules/oc-rule')).statusCode).toBe(204)
    expect(await audit('rules.create')).toEqual([{ subject: CLI_SUBJECT, role: 'ADMIN', target: 'oc-rule', outcome: 'ok' }])
    expect(await audit('rules.update')).toEqual([{ subject: CLI_SUBJECT, role: 'ADMIN', target: 'oc-rule', outcome: 'ok' }])
    expect(await audit('rules.delete')).toEqual([{ subject: REST_SUBJECT, role: 'ADMIN', target: 'oc-rule', outcome: 'ok' }])
  }, SLOW)

  it('refuses: not found 404 / exit 3, duplicate 409 / exit 4, invalid 400 / exit 2 naming the field, forbidden 403 / exit 5', async () => {
    const ghost = await f.call('GET', '/api/v1/rules/ghost')
    expect([ghost.statusCode, ghost.json().code]).toEqual([404, 'HERALD_ERR_NOT_FOUND'])
    const ghostCli = await herald(['rules', 'delete', '--tenant', TENANT, 'ghost'])
    expect([ghostCli.code, ghostCli.stderr]).toEqual([3, 'herald: no rule matcher ghost (HERALD_ERR_NOT_FOUND)\n'])
    expect((await herald(['rules', 'show', '--tenant', TENANT, 'ghost'])).code).toBe(3)

    // A businessId is the tenant's, whichever kind holds it: oc-a is a recipient.
    const taken = await f.call('POST', '/api/v1/rules', { body: luceneRule('oc-a', 'action:X', []) })
    expect([taken.statusCode, taken.json().code]).toEqual([409, 'HERALD_ERR_ALREADY_EXISTS'])
    const takenCli = await herald(['rules', 'create', '--tenant', TENANT], { input: JSON.stringify(luceneRule('oc-a', 'action:X', [])) })
    expect([takenCli.code, takenCli.stderr]).toEqual([4, expect.stringMatching(/a recipient with businessId oc-a already exists \(HERALD_ERR_ALREADY_EXISTS\)/)])

    const { label: _label, ...unlabelled } = luceneRule('oc-nolabel', 'action:X', [])
    const invalid = await f.call('POST', '/api/v1/rules', { body: unlabelled })
    expect([invalid.statusCode, invalid.json().detail]).toEqual([400, expect.stringMatching(/label/)])
    const invalidCli = await herald(['rules', 'create', '--tenant', TENANT], { input: JSON.stringify(unlabelled) })
    expect([invalidCli.code, invalidCli.stderr]).toEqual([2, expect.stringMatching(/oc-nolabel.*label is mandatory \(HERALD_ERR_INVALID_CONFIGURATION\)/)])
    const noRecipients = await herald(['rules', 'create', '--tenant', TENANT], { input: JSON.stringify({ ...luceneRule('oc-x', 'action:X', []), recipients: 'oc-a' }) })
    expect([noRecipients.code, noRecipients.stderr]).toEqual([2, expect.stringMatching(/recipients must be a list/)])
    const unknownRecipient = await f.call('POST', '/api/v1/rules', { body: luceneRule('oc-x', 'action:X', ['nobody']) })
    expect([unknownRecipient.statusCode, unknownRecipient.json().detail]).toEqual([400, expect.stringMatching(/Unknown RECIPIENT plugin business id nobody/)])
    const notJson = await herald(['rules', 'create', '--tenant', TENANT], { input: '{"pluginId":' })
    expect([notJson.code, notJson.stderr]).toEqual([2, expect.stringMatching(/stdin is not JSON.*HERALD_ERR_MALFORMED_JSON/)])

    expect((await f.call('POST', '/api/v1/rules', { body: luceneRule('oc-kept', 'action:CREATED', ['oc-a']) })).statusCode).toBe(201)
    const { businessId: _id, ...update } = luceneRule('oc-kept', 'action:DELETED', [])
    const forbidden = await f.call('PUT', '/api/v1/rules/oc-kept', { as: [TENANT, 'EXPLOIT'], body: update })
    expect([forbidden.statusCode, forbidden.json().code]).toEqual([403, 'HERALD_ERR_FORBIDDEN'])
    // The CLI's operator is ADMIN of the tenant it names: the operation itself refuses an EXPLOIT (exit 5)…
    const refusal = (await rulesUpdate(f.herald.ctx, { tenant: TENANT, role: 'EXPLOIT', subject: 'exploit-op' }, { businessId: 'oc-kept', rule: update }).then(() => undefined, (e: unknown) => e)) as HeraldError
    expect([refusal.code, EXIT_CODES[refusal.kind]]).toEqual(['HERALD_ERR_FORBIDDEN', 5])
    // …and the CLI refuses a tenant this Herald does not serve.
    const otherTenant = await herald(['rules', 'update', '--tenant', TENANT, 'oc-kept'], { input: JSON.stringify(update), env: { HERALD_TENANTS: 'someone-else' } })
    expect([otherTenant.code, otherTenant.stderr]).toEqual([5, expect.stringMatching(/HERALD_ERR_TENANT_NOT_ACCEPTED/)])
    expect((await f.call('GET', '/api/v1/rules/oc-kept')).json().parameters).toEqual([{ name: 'metadata_rule', type: 'STRING', value: 'action:CREATED' }])

    expect(await audit('rules.update')).toContainEqual({ subject: 'exploit-op', role: 'EXPLOIT', target: 'oc-kept', outcome: 'HERALD_ERR_FORBIDDEN' })
    expect((await audit('rules.delete')).filter((e) => e.target === 'ghost')).toEqual([{ subject: CLI_SUBJECT, role: 'ADMIN', target: 'ghost', outcome: 'HERALD_ERR_NOT_FOUND' }])
    expect((await audit('rules.create')).filter((e) => e.target === 'oc-a').map((e) => e.outcome)).toEqual(['HERALD_ERR_ALREADY_EXISTS', 'HERALD_ERR_ALREADY_EXISTS'])
  }, SLOW)

  it('imports a configuration by the CLI (audited), refusing a file with errors (409 / exit 4) or without modules (400 / exit 2)', async () => {
    const valid = configFile([pluginConf('LuceneRuleMatcher', 'oc-imported', { metadata_rule: 'action:CREATED' }), association('oc-imported', ['oc-b'])], false)
    const imported = await herald(['config', 'import', '--tenant', TENANT, file('config.json', valid)])
    expect([imported.code, imported.stdout]).toEqual([0, expect.stringMatching(/imported 1 plugin configurations and 1 rule associations/)])
    expect((await f.call('GET', '/api/v1/rules/oc-imported')).json().recipients).toEqual(['oc-b'])
    expect(JSON.parse((await herald(['config', 'export', '--tenant', TENANT])).stdout)).toEqual((await f.call('GET', '/api/v1/configuration')).json())

    const bad = configFile([association('oc-imported', ['nobody'])], false)
    const rejected = await f.call('POST', '/api/v1/configuration', { body: bad })
    expect([rejected.statusCode, rejected.json().errors]).toEqual([409, ['Unknown RECIPIENT plugin business id nobody in association with RULE oc-imported']])
    const rejectedCli = await herald(['config', 'import', '--tenant', TENANT, '-'], { input: JSON.stringify(bad) })
    expect([rejectedCli.code, rejectedCli.stderr]).toEqual([4, expect.stringMatching(/business id nobody.*\(HERALD_ERR_IMPORT_REJECTED\)/)])
    const shapeless = await herald(['config', 'import', '--tenant', TENANT, '-'], { input: '{"modules": {}}' })
    expect([shapeless.code, shapeless.stderr]).toEqual([2, expect.stringMatching(/"modules" list.*HERALD_ERR_VALIDATION/)])
    expect((await f.call('POST', '/api/v1/configuration', { body: { modules: {} } })).statusCode).toBe(400)

    expect((await audit('configuration.import')).map((e) => [e.subject, e.outcome])).toEqual([
      [CLI_SUBJECT, 'ok'],
      [REST_SUBJECT, 'HERALD_ERR_IMPORT_REJECTED'],
      [CLI_SUBJECT, 'HERALD_ERR_IMPORT_REJECTED'],
      [CLI_SUBJECT, 'HERALD_ERR_VALIDATION'],
    ])
    expect((await f.call('POST', '/api/v1/configuration', { as: [TENANT, 'EXPLOIT'], body: valid })).statusCode).toBe(403)
  }, SLOW)

  it('shows and discards a real dead letter by the CLI; EXPLOIT replays into its queue but not to its exchange', async () => {
    const stopCollector = await startDeadLetterCollector(f.herald.ctx, ['notifier', 'http'])
    const client = new RegardsClient(f.vhost.url)
    const publisher = client.rabbit.createPublisher({ confirm: true })
    try {
      // As Herald's batch consumer dead-letters a message it failed to process (test/http-dead-letters.test.ts).
      await publisher.send(
        {
          exchange: DLX,
          routingKey: `${NOTIFICATION_REQUEST_QUEUE}.DLQ`,
          durable: true,
          contentType: 'application/json',
          headers: {
            'regards.tenant': TENANT,
            'regards.request.id': 'oc-dead',
            'x-exception-message': 'processing failed 3 times',
            'x-original-exchange': NOTIFICATION_REQUEST_EXCHANGE,
            'x-original-routingKey': '',
            'x-death-queue': NOTIFICATION_REQUEST_QUEUE,
          },
        },
        Buffer.from(JSON.stringify({ payload: { id: 'oc-dead' }, metadata: {} })),
      )
      const list = async () => (await f.call('GET', '/api/v1/dead-letters', { as: [TENANT, 'EXPLOIT'] })).json().items as { id: number; requestId: string }[]
      await waitFor(async () => (await list()).some((m) => m.requestId === 'oc-dead'), 'dead letter collected', { timeoutMs: 15_000 })
      const [{ id }] = await list()

      const exchange = await f.call('POST', `/api/v1/dead-letters/${id}/replay?target=exchange`, { as: [TENANT, 'EXPLOIT'] })
      expect([exchange.statusCode, exchange.json().code]).toEqual([403, 'HERALD_ERR_FORBIDDEN'])
      const listed = await herald(['dlq', 'list', '--tenant', TENANT])
      expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+${NOTIFICATION_REQUEST_QUEUE.replaceAll('.', '\\.')}\\s+oc-dead\\s`, 'm'))
      const shown = await herald(['dlq', 'show', '--tenant', TENANT, String(id)])
      expect(JSON.parse(shown.stdout)).toEqual({ ...(await f.call('GET', `/api/v1/dead-letters/${id}`)).json() })
      expect(JSON.parse(JSON.parse(shown.stdout).body)).toEqual({ payload: { id: 'oc-dead' }, metadata: {} })
      expect((await herald(['dlq', 'show', '--tenant', 'tenant-b', String(id)])).code).toBe(3)

      const discarded = await herald(['dlq', 'discard', '--tenant', TENANT, String(id)])
      expect([discarded.code, discarded.stdout]).toEqual([0, 'discarded 1 messages\n'])
      const again = await herald(['dlq', 'discard', '--tenant', TENANT, String(id)])
      expect([again.code, again.stderr]).toEqual([3, expect.stringMatching(new RegExp(`no dead letter ${id} in tenant ${TENANT} \\(HERALD_ERR_NOT_FOUND\\)`))])
      expect((await herald(['dlq', 'discard', '--tenant', TENANT])).code).toBe(2)
      expect((await f.call('GET', `/api/v1/dead-letters/${id}`)).statusCode).toBe(404)
      expect(await audit('dead-letters.discard')).toEqual([
        { subject: CLI_SUBJECT, role: 'ADMIN', target: String(id), outcome: 'ok' },
        { subject: CLI_SUBJECT, role: 'ADMIN', target: String(id), outcome: 'HERALD_ERR_NOT_FOUND' },
        { subject: CLI_SUBJECT, role: 'ADMIN', target: '', outcome: 'HERALD_ERR_VALIDATION' },
      ])
      expect(await audit('dead-letters.replay')).toEqual([{ subject: REST_SUBJECT, role: 'EXPLOIT', target: `${id} target=exchange`, outcome: 'HERALD_ERR_FORBIDDEN' }])
    } finally {
      await publisher.close()
      await client.close()
      await stopCollector()
    }
  }, SLOW)

  it('answers plugins the same through both, unknown ones 404 / exit 3', async () => {
    expect(JSON.parse((await herald(['plugins', 'show', 'WebhookSender', '--json'])).stdout)).toEqual((await f.call('GET', '/api/v1/plugins/WebhookSender', { as: [TENANT, 'EXPLOIT'] })).json())
    expect((await f.call('GET', '/api/v1/plugins/CarrierPigeon')).statusCode).toBe(404)
    const unknown = await herald(['plugins', 'show', 'CarrierPigeon'])
    expect([unknown.code, unknown.stderr]).toEqual([3, expect.stringMatching(/no plugin CarrierPigeon .*\(HERALD_ERR_NOT_FOUND\)/)])
  }, SLOW)
})
