import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { loadTokenKeys, signToken } from '../src/http/auth.ts'
import { createHttpServer } from '../src/http/server.ts'
import { createLogger } from '../src/log.ts'
import type { Herald } from '../src/main.ts'
import { createMetrics } from '../src/metrics.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

/**
 * The keys of a JSON object's text, in order, duplicates kept: JSON.parse keeps only the last of two equal
 * keys, so a line that carries one twice has to be read as text.
 */
function topLevelKeys(line: string): string[] {
  const keys: string[] = []
  let depth = 0
  let expectKey = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === '"') {
      let end = i + 1
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1
      if (depth === 1 && expectKey) keys.push(JSON.parse(line.slice(i, end + 1)))
      expectKey = false
      i = end
    } else if (c === '{' || c === '[') {
      depth++
      expectKey = c === '{' && depth === 1
    } else if (c === '}' || c === ']') depth--
    else if (c === ',' && depth === 1) expectKey = true
  }
  return keys
}

const duplicates = (keys: string[]) => keys.filter((k, i) => keys.indexOf(k) !== i)

describe('topLevelKeys', () => {
  it('sees a key twice where JSON.parse sees it once, and ignores nested keys and keys inside strings', () => {
    const line = '{"queue":"a","err":{"queue":"x","message":"say \\"queue\\":1, {"},"list":[{"queue":2}],"queue":"b"}'
    expect(Object.keys(JSON.parse(line))).toEqual(['queue', 'err', 'list'])
    expect(topLevelKeys(line)).toEqual(['queue', 'err', 'list', 'queue'])
    expect(duplicates(topLevelKeys(line))).toEqual(['queue'])
  })
})

describe('pglite: the log lines of a running Herald', () => {
  const text: string[] = []
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        text.push(...String(chunk).split('\n').filter(Boolean))
        done()
      },
    })
    vhost = await createVhost()
    storage = await createTestStorage('pglite')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url, log: createLogger('debug', sink) })
    client = new RegardsClient(vhost.url)
    await importConfig(herald, TENANT, [
      pluginConf('RabbitMQSender', 'good', { exchange: 'ext.good', queueName: 'ext.good.q', recipientLabel: 'good' }),
      pluginConf('LuceneRuleMatcher', 'all', {}),
      association('all', ['good']),
    ])
    await client.listenToEvents()
  })

  afterAll(async () => {
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  it('never carry a key twice, and write an error with its type, message, stack and cause', async () => {
    // A listener that throws: Herald logs the error and goes on.
    herald.ctx.events.on('request:granted', () => {
      throw new Error('a listener broke', { cause: new TypeError('its registry is gone') })
    })
    const denied = randomUUID()
    const granted = randomUUID()
    await client.publishRequest({ body: {}, headers: { marker: 'no tenant' } })
    await client.publishRequest({ tenant: TENANT, requestId: denied, owner: 'me', rawBody: Buffer.from('not json') })
    await client.publishRequest({ tenant: TENANT, requestId: granted, owner: 'me', body: { payload: { id: granted }, metadata: {} } })
    await waitFor(() => client.eventsFor(granted).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 20_000, wakeOn: client.onMessage })
    await waitFor(() => client.eventsFor(denied).some((e) => e.body.state === 'DENIED'), 'DENIED', { timeoutMs: 5_000, wakeOn: client.onMessage })

    const keys = loadTokenKeys(herald.ctx.config)
    const app = await createHttpServer(herald.ctx, { metrics: createMetrics(herald.ctx.events, { tenants: herald.ctx.config.tenants, configCache: herald.ctx.configCache }), consuming: () => true, tokenKeys: keys })
    const answer = await app.inject({ url: '/api/v1/requests', headers: { authorization: `Bearer ${signToken(keys.hs256, { tenant: TENANT, role: 'ADMIN' }, 60)}` } })
    await app.close()
    expect(answer.statusCode).toBe(200)

    const lines = text.map((line) => ({ line, json: JSON.parse(line) as Record<string, any> }))
    const find = (msg: string) => lines.find((l) => l.json.msg === msg)?.json
    // The paths above did write their lines (a test of nothing would pass too).
    expect(find('message dead-lettered')).toMatchObject({ queue: NOTIFICATION_REQUEST_QUEUE, reason: expect.stringMatching(/regards\.tenant/) })
    expect(find('request DENIED')).toMatchObject({ tenant: TENANT, requestId: denied })
    expect(find('request completed')).toMatchObject({ module: 'http', tenant: TENANT, role: 'ADMIN', statusCode: 200 })

    expect(lines.filter((l) => duplicates(topLevelKeys(l.line)).length > 0).map((l) => l.line)).toEqual([])

    const failed = find('an event listener failed')
    expect(failed?.err).toMatchObject({
      type: 'Error',
      message: 'a listener broke',
      stack: expect.stringContaining('log-lines.test.ts'),
      cause: { type: 'TypeError', message: 'its registry is gone', stack: expect.stringContaining('TypeError: its registry is gone') },
    })
    // Every error line written on these paths carries a serialized error, never a flattened string.
    for (const { json } of lines.filter((l) => l.json.err !== undefined)) expect(json.err).toMatchObject({ type: expect.any(String), message: expect.any(String), stack: expect.any(String) })
  })
})
