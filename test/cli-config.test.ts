import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, runHerald } from './support/cli.ts'
import { association, configFile, pluginConf } from './support/herald.ts'
import { openParameters } from '../src/secrets/secret-parameters.ts'
import { createTestStorage, storageSecrets, type TestStorage } from './support/services.ts'

describe('postgres: herald config import / export', () => {
  let storage: TestStorage
  let file: string
  const herald = (...args: string[]) => runHerald(args, { env: cliEnv(storage) })
  /** A command that must succeed: its output. */
  const succeeded = async (...args: string[]) => {
    const { code, stdout, stderr } = await herald(...args)
    expect(code, stderr).toBe(0)
    return stdout
  }
  const write = (value: unknown) => {
    fs.writeFileSync(file, JSON.stringify(value))
    return file
  }
  const stored = async (businessId: string) => {
    const client = new pg.Client(storage.databaseUrl)
    await client.connect()
    const { rows } = await client.query('select parameters, active from plugin_configuration where business_id = $1', [businessId])
    await client.end()
    return rows[0]
  }

  beforeAll(async () => {
    storage = await createTestStorage('postgres')
    file = path.join(storage.dataDir, 'config.json')
  })
  afterAll(async () => storage?.drop())

  const valid = configFile([
    pluginConf('WebhookSender', 'hook', { url: 'https://partner.example/hook', secrets: 'whsec_c2VjcmV0LXZhbHVlLTE=', recipientLabel: 'hook' }),
    pluginConf('RabbitMQSender', 'amqp', { exchange: 'ext.a', recipientLabel: 'amqp' }),
    pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
    association('created', ['hook', 'amqp']),
  ])

  it('imports, exports with secrets masked, and re-imports the export without losing the secret', async () => {
    const stdout = await succeeded('config', 'import', '--tenant', 't1', write(valid))
    expect(stdout).toMatch(/imported 3 plugin configurations and 1 rule associations/)
    const exported = JSON.parse(await succeeded('config', 'export', '--tenant', 't1'))
    const hook = exported.modules[0].configuration.find((e: any) => e.value.businessId === 'hook')
    expect(hook.value.parameters.find((p: any) => p.name === 'secrets').value).toBe('********')
    expect(exported.modules[0].configuration.find((e: any) => e.value.ruleId === 'created').value.recipientIds).toEqual(['amqp', 'hook'])
    await succeeded('config', 'import', '--tenant', 't1', write(exported))
    const sealed = (await stored('hook')).parameters
    expect(JSON.stringify(sealed)).not.toContain('whsec_c2VjcmV0LXZhbHVlLTE=')
    const params = openParameters(storageSecrets(storage), { tenant: 't1', businessId: 'hook', pluginId: 'WebhookSender' }, sealed)
    expect(params.find((p: any) => p.name === 'secrets')!.value).toBe('whsec_c2VjcmV0LXZhbHVlLTE=')
  })

  it('rejects a file with errors as a whole, naming each bad entry, and changes nothing', async () => {
    const bad = configFile([
      pluginConf('NoSuchPlugin', 'x', {}),
      pluginConf('LuceneRuleMatcher', 'broken', { payload_rule: 'a:1 b:2' }),
      pluginConf('RabbitMQSender', 'blocking', { exchange: 'e', blockingRequired: true }),
      association('created', ['nobody']),
    ])
    const error = await herald('config', 'import', '--tenant', 't1', write(bad))
    expect(error.code).toBe(4)
    expect(error.stderr).toMatch(/HERALD_ERR_IMPORT_REJECTED/)
    expect(error.stderr).toMatch(/unknown plugin id NoSuchPlugin/)
    expect(error.stderr).toMatch(/broken.*payload_rule/)
    expect(error.stderr).toMatch(/blockingRequired=true requires ackRequired=true/)
    expect(await stored('amqp')).toBeDefined()
    const error2 = await herald('config', 'import', '--tenant', 't1', write(configFile([association('created', ['nobody'])], false)))
    expect(error2.stderr).toMatch(/Unknown RECIPIENT plugin business id nobody in association with RULE created/)
  })

  it('honours resetBeforeImport and keeps tenants apart', async () => {
    await succeeded('config', 'import', '--tenant', 't2', write(valid))
    await succeeded('config', 'import', '--tenant', 't1', write(configFile([pluginConf('RabbitMQSender', 'only', { exchange: 'e' })], true)))
    const t1 = JSON.parse(await succeeded('config', 'export', '--tenant', 't1'))
    expect(t1.modules[0].configuration.map((e: any) => e.value.businessId ?? e.value.ruleId)).toEqual(['only'])
    const t2 = JSON.parse(await succeeded('config', 'export', '--tenant', 't2'))
    expect(t2.modules[0].configuration).toHaveLength(4)
  })
})
