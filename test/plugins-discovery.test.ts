import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { BACKENDS } from './support/services.ts'

// Plugins are Herald's own: no database, no broker.
const herald = (...args: string[]) => runHerald(args, { env: cliEnv() })

describe(`${BACKENDS[0]}: plugin discovery (REST and CLI)`, () => {
  let f: HttpFixture
  beforeAll(async () => {
    f = await startHttpFixture(BACKENDS[0])
  })
  afterAll(async () => f?.close())

  it('lists every plugin with its parameters, to any authenticated role, as the CLI does', async () => {
    const listed = await f.call('GET', '/api/v1/plugins', { as: ['project1', 'EXPLOIT'] })
    expect(listed.statusCode).toBe(200)
    const plugins = listed.json()
    expect(plugins.map((p: any) => [p.pluginId, p.kind])).toEqual([
      ['RabbitMQSender', 'RECIPIENT'],
      ['DisseminationAckSender', 'RECIPIENT'],
      ['WorkerManagerSender', 'RECIPIENT'],
      ['LtaRequestSender', 'RECIPIENT'],
      ['WebhookSender', 'RECIPIENT'],
      ['EmailSender', 'RECIPIENT'],
      ['DefaultRuleMatcher', 'RULE'],
      ['LuceneRuleMatcher', 'RULE'],
    ])
    const webhook = plugins.find((p: any) => p.pluginId === 'WebhookSender')
    expect(webhook).toMatchObject({ version: '1.0.0', author: 'Herald', description: expect.stringMatching(/Standard Webhooks/) })
    expect(webhook.parameters.find((p: any) => p.name === 'url')).toEqual({
      name: 'url',
      label: 'URL',
      type: 'STRING',
      optional: false,
      description: expect.stringMatching(/POST to/),
      sensitive: false,
      constraints: { format: 'http-url', formatDescription: 'an http:// or https:// URL' },
    })
    expect(webhook.parameters.find((p: any) => p.name === 'secrets')).toMatchObject({ optional: true, sensitive: true })
    expect(webhook.parameters.find((p: any) => p.name === 'timeoutMs')).toMatchObject({ type: 'INTEGER', defaultValue: 10000 })
    const lucene = plugins.find((p: any) => p.pluginId === 'LuceneRuleMatcher')
    expect(lucene.parameters.map((p: any) => [p.name, p.optional])).toEqual([['payload_rule', true], ['metadata_rule', true], ['herald_extensions', true]])
    // REGARDS' optional parameters stay optional; its mandatory ones are mandatory.
    const lta = plugins.find((p: any) => p.pluginId === 'LtaRequestSender')
    expect(lta.parameters.filter((p: any) => !p.optional).map((p: any) => p.name)).toEqual(['exchange', 'dataType', 'replaceMode'])

    const cli = await herald('plugins', 'list', '--json')
    expect(JSON.parse(cli.stdout)).toEqual(plugins)
    const one = await f.call('GET', '/api/v1/plugins/EmailSender', { as: ['project1', 'EXPLOIT'] })
    expect(JSON.parse((await herald('plugins', 'show', 'EmailSender', '--json')).stdout)).toEqual(one.json())
    const table = await herald('plugins', 'show', 'EmailSender')
    expect(table.stdout).toMatch(/^password\s+STRING\s+yes\s+SMTP password/m)
  // Three CLI runs from the sources: up to ~35 s each on this loaded 2-core machine.
  }, 180_000)

  it('answers 404 problem+json for an unknown plugin, 401 without a token', async () => {
    const unknown = await f.call('GET', '/api/v1/plugins/CarrierPigeon')
    expect([unknown.statusCode, unknown.headers['content-type'], unknown.json().code]).toEqual([404, 'application/problem+json', 'HERALD_ERR_NOT_FOUND'])
    expect((await f.call('GET', '/api/v1/plugins', { as: null })).statusCode).toBe(401)
    const cli = await herald('plugins', 'show', 'CarrierPigeon')
    expect([cli.code, cli.stderr]).toEqual([3, expect.stringMatching(/no plugin CarrierPigeon.*HERALD_ERR_NOT_FOUND/)])
  }, 120_000)

  it('publishes each plugin\'s parameters as an OpenAPI component, secrets writeOnly', async () => {
    const doc = (await f.call('GET', '/api/v1/openapi.json', { as: null })).json()
    const schema = doc.components.schemas.WebhookSenderParameters
    expect(schema.required).toEqual(['url'])
    expect(schema.properties.secrets).toMatchObject({ writeOnly: true, 'x-regards-type': 'STRING' })
    expect(Object.keys(doc.components.schemas).filter((k) => k.endsWith('Parameters'))).toHaveLength(8)
    expect(doc.paths['/api/v1/plugins/{pluginId}']).toBeDefined()
  })
})
