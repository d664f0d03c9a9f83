import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { savePlugin } from '../src/notifier/plugin-configurations.ts'
import { HeraldError } from '../src/errors.ts'
import { ConfigImportError, importNotifierConfig } from '../src/notifier/config-import.ts'
import { createSecretBox } from '../src/secrets/secret-box.ts'
import { association, configFile, pluginConf } from './support/herald.ts'
import { BACKENDS, openTestDatabase, type TestDatabase } from './support/services.ts'

const secrets = createSecretBox(randomBytes(32))
const webhook = (businessId: string, extra: Record<string, unknown> = {}) => pluginConf('WebhookSender', businessId, { url: 'https://partner.example/hook', recipientLabel: businessId, ...extra })

/** Every error of a refused import (or [] when it was accepted). */
async function importErrors(db: TestDatabase['db'], configuration: unknown[], lenient = false): Promise<string[]> {
  try {
    await importNotifierConfig(db, secrets, 't1', configFile(configuration, false), { lenient })
    return []
  } catch (err) {
    if (err instanceof ConfigImportError) return err.errors
    throw err
  }
}

for (const backend of BACKENDS) {
  describe(`${backend}: configurations are checked against the plugin declarations`, () => {
    let database: TestDatabase
    const stored = async () =>
      (await sql<{ business_id: string; parameters: { name: string; value: unknown }[] }>`select business_id, parameters from plugin_configuration where tenant = 't1' order by business_id`.execute(database.db)).rows

    beforeAll(async () => {
      database = await openTestDatabase(backend)
    })
    afterAll(async () => database?.drop())

    it('refuses misspelt parameter names with a suggestion, naming the entry, and stores nothing', async () => {
      const errors = await importErrors(database.db, [
        webhook('typo-hook', { secret: 'whsec_c2VjcmV0LXZhbHVlLTE=', allowLoopback: true }),
        pluginConf('RabbitMQSender', 'typo-amqp', { exchang: 'ext.a' }),
        pluginConf('LuceneRuleMatcher', 'typo-rule', { rule: 'properties.type:L2' }),
        association('typo-rule', ['typo-hook', 'typo-amqp']),
      ])
      expect(errors).toEqual([
        'plugin configuration typo-hook (WebhookSender): unknown parameter "secret": did you mean "secrets"?',
        expect.stringMatching(/^plugin configuration typo-hook \(WebhookSender\): unknown parameter "allowLoopback" \(WebhookSender takes url, secrets, .*allowPrivateNetwork/),
        'plugin configuration typo-amqp (RabbitMQSender): unknown parameter "exchang": did you mean "exchange"?',
        'plugin configuration typo-amqp (RabbitMQSender): parameter exchange is mandatory',
        'plugin configuration typo-rule (LuceneRuleMatcher): unknown parameter "rule": did you mean "payload_rule" or "metadata_rule"?',
      ])
      expect(await stored()).toEqual([])
    })

    it('refuses wrong types, values out of their constraints and missing mandatory parameters, all at once, never quoting a secret', async () => {
      const errors = await importErrors(database.db, [
        webhook('bad-values', { ackRequired: 'yes', timeoutMs: '1.5', bodyTemplate: 'xml', maxAttempts: 0, secrets: 42 }),
        pluginConf('EmailSender', 'bad-mail', { host: 'smtp.example.org', from: 'nobody', to: 'ops@example.org', port: 70000 }),
        pluginConf('RabbitMQSender', 'long-name', { exchange: 'é'.repeat(128) }),
        pluginConf('DefaultRuleMatcher', 'half-rule', { attributeToSeek: 'nature' }),
        webhook('good-hook'),
      ])
      expect(errors).toEqual([
        'plugin configuration bad-values (WebhookSender): parameter secrets must be a STRING, got a value that is not shown (secret)',
        'plugin configuration bad-values (WebhookSender): parameter timeoutMs must be an INTEGER (a whole number), got "1.5"',
        'plugin configuration bad-values (WebhookSender): parameter bodyTemplate must be one of "default", "cloudevents", "cnm", got "xml"',
        'plugin configuration bad-values (WebhookSender): parameter ackRequired must be a BOOLEAN (true or false), got "yes"',
        'plugin configuration bad-values (WebhookSender): parameter maxAttempts must be at least 1, got 0',
        'plugin configuration bad-mail (EmailSender): parameter port must be between 1 and 65535, got 70000',
        'plugin configuration bad-mail (EmailSender): parameter from must be an e-mail address (address@domain or Name <address@domain>), got "nobody"',
        `plugin configuration long-name (RabbitMQSender): parameter exchange must be an AMQP name of 1 to 255 bytes, got "${'é'.repeat(79)}…`,
        'plugin configuration half-rule (DefaultRuleMatcher): parameter attributeValueToSeek is mandatory',
      ])
      expect(await stored()).toEqual([])
    })

    it('accepts what REGARDS exports, types as REGARDS writes them', async () => {
      const regards = configFile([
        { key: 'fr.cnes.regards.framework.modules.plugins.domain.PluginConfiguration', value: { pluginId: 'RabbitMQSender', label: 'External system one', businessId: 'external-system-1', version: '1.0.0', priorityOrder: 0, active: true, parameters: [{ name: 'exchange', type: 'STRING', value: 'external.system-1.dissemination' }, { name: 'ackRequired', type: 'BOOLEAN', value: false }] } },
        { key: 'fr.cnes.regards.framework.modules.plugins.domain.PluginConfiguration', value: { pluginId: 'LuceneRuleMatcher', label: 'Valid products', businessId: 'fem-valid-products-rule', version: '1.0.0', priorityOrder: 0, active: true, parameters: [{ name: 'metadata_rule', type: 'STRING', value: 'action: CREATED' }] } },
        pluginConf('DisseminationAckSender', 'ack', { senderLabel: 'B', featureDisseminationExchange: 'b.acks', featureDisseminationQueueName: 'b.acks.q', featureDisseminationUseDedicatedDlq: 'true', description: 'to A' }),
        pluginConf('LtaRequestSender', 'lta', { exchange: 'lta.x', dataType: 'L2', replaceMode: 'false', sessionNamePattern: '{properties.type}-#day', recipientTenant: '' }),
        { key: 'fr.cnes.regards.modules.notifier.dto.conf.RuleRecipientsAssociation', value: { ruleId: 'fem-valid-products-rule', recipientIds: ['external-system-1', 'ack', 'lta'] } },
      ])
      await expect(importNotifierConfig(database.db, secrets, 't1', regards)).resolves.toMatchObject({ plugins: 4, associations: 1, warnings: [] })
    })

    it('with lenient, warns about unknown names and leaves them out; wrong values are still refused', async () => {
      const report = await importNotifierConfig(database.db, secrets, 't1', configFile([webhook('lenient-hook', { secret: 'k', legacyFlag: true })], false), { lenient: true })
      expect(report.warnings).toEqual([
        'plugin configuration lenient-hook (WebhookSender): unknown parameter "secret": did you mean "secrets"?, left out',
        expect.stringMatching(/unknown parameter "legacyFlag" .*, left out$/),
      ])
      const row = (await stored()).find((r) => r.business_id === 'lenient-hook')!
      expect(row.parameters.map((p) => p.name)).toEqual(['url', 'recipientLabel'])
      expect(await importErrors(database.db, [webhook('lenient-bad', { timeoutMs: 'soon', legacy: 1 })], true)).toEqual([
        'plugin configuration lenient-bad (WebhookSender): parameter timeoutMs must be an INTEGER (a whole number), got "soon"',
      ])
    })

    it('refuses the same through create and update (REST and CLI use them), with no lenient mode', async () => {
      const save = (businessId: string, parameters: { name: string; value: unknown }[], mode: 'create' | 'update') =>
        savePlugin(database.db, secrets, 't1', 'RECIPIENT', businessId, { pluginId: 'WebhookSender', label: businessId, parameters }, mode).then(
          () => [],
          (err) => {
            if (err instanceof HeraldError) return [err.code, ...((err.details.errors as string[] | undefined) ?? [])]
            throw err
          },
        )
      expect(await save('rest-hook', [{ name: 'url', value: 'https://partner.example/hook' }, { name: 'secret', value: 'k' }], 'create')).toEqual([
        'HERALD_ERR_INVALID_CONFIGURATION',
        'plugin configuration rest-hook (WebhookSender): unknown parameter "secret": did you mean "secrets"?',
      ])
      expect(await save('rest-hook', [{ name: 'url', value: 'https://partner.example/hook' }], 'create')).toEqual([])
      expect(await save('rest-hook', [{ name: 'url', value: 'https://partner.example/hook' }, { name: 'allowPrivateNetwork', value: 'sometimes' }, { name: 'url', value: 'x' }], 'update')).toEqual([
        'HERALD_ERR_INVALID_CONFIGURATION',
        'plugin configuration rest-hook (WebhookSender): parameter url is given twice',
      ])
      expect(await save('rest-hook', [{ name: 'allowPrivateNetwork', value: 'sometimes' }], 'update')).toEqual([
        'HERALD_ERR_INVALID_CONFIGURATION',
        'plugin configuration rest-hook (WebhookSender): parameter url is mandatory',
        'plugin configuration rest-hook (WebhookSender): parameter allowPrivateNetwork must be a BOOLEAN (true or false), got "sometimes"',
      ])
    })
  })
}
