import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, freePort, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const run = promisify(execFile)
const herald = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/herald.js')
const amqp = (value: string) => loadConfig({ HERALD_AMQP_URL: value })

describe('HERALD_AMQP_URL with the nodes of a RabbitMQ cluster', () => {
  it('takes one URL as before, and a comma-separated list as the host list of one set of credentials and vhost', () => {
    expect(amqp('amqp://u:p@rabbit:5673/regards.multitenant.manager')).toMatchObject({ amqpUrl: 'amqp://u:p@rabbit:5673/regards.multitenant.manager', amqpHosts: ['rabbit:5673'] })
    expect(loadConfig({})).toMatchObject({ amqpUrl: 'amqp://guest:guest@127.0.0.1:5672', amqpHosts: ['127.0.0.1:5672'] })
    const list = amqp(' amqp://u:p@r1/v?heartbeat=10 , amqp://u:p@r2:5673/v?heartbeat=10,amqp://u:p@r3:5674/v?heartbeat=10')
    expect(list.amqpUrl).toBe('amqp://u:p@r1/v?heartbeat=10')
    expect(list.amqpHosts).toEqual(['r1:5672', 'r2:5673', 'r3:5674'])
    expect(amqp('amqps://u:p@r1/v,amqps://u:p@r2/v').amqpHosts).toEqual(['r1:5671', 'r2:5671'])
  })

  it('refuses a list it cannot use with one line naming the entry and the problem, the password masked', () => {
    const refusal = (value: string) => {
      try {
        amqp(value)
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError)
        return (err as Error).message
      }
      throw new Error(`accepted ${value}`)
    }
    expect(refusal('amqp://r1,,amqp://r2')).toBe('HERALD_AMQP_URL entry 2 of 3 is empty')
    expect(refusal('amqp://r1,')).toBe('HERALD_AMQP_URL entry 2 of 2 is empty')
    expect(refusal('rabbit:5672')).toBe('HERALD_AMQP_URL (rabbit:5672): the scheme must be amqp: or amqps:')
    expect(refusal('not a url')).toBe('HERALD_AMQP_URL is not a URL (expected amqp://user:password@host:port/vhost)')
    expect(refusal('amqp://u:secret@r1/a,amqp://u:secret@r2/b')).toBe(
      'HERALD_AMQP_URL entry 2 (amqp://u:***@r2/b) has another vhost than entry 1 (amqp://u:***@r1/a): the URLs of one cluster may differ in host and port only',
    )
    expect(refusal('amqp://u:p1@r1,amqp://u:p2@r2')).toMatch(/^HERALD_AMQP_URL entry 2 \(amqp:\/\/u:\*\*\*@r2\) has another password than entry 1/)
    expect(refusal('amqp://u:p@r1,amqp://v:p@r2')).toMatch(/has another user name than entry 1/)
    expect(refusal('amqp://r1,amqps://r2')).toMatch(/has another scheme than entry 1/)
    expect(refusal('amqp://r1?heartbeat=5,amqp://r2')).toMatch(/has another options than entry 1/)
    expect(refusal('amqp://r1:5672,amqp://r1')).toBe('HERALD_AMQP_URL entry 2 repeats r1:5672')
    expect(refusal('amqp://[::1]:5672')).toBe('HERALD_AMQP_URL (amqp://[::1]:5672): IPv6 addresses are not supported, use a host name')
  })

  it('herald start prints that line alone and exits 1', async () => {
    const failed = await run(process.execPath, [herald, 'start'], { env: { ...process.env, HERALD_AMQP_URL: 'amqp://guest:secret@127.0.0.1:5672/a,amqp://guest:secret@127.0.0.1:5673/b' } }).then(
      () => undefined,
      (err: { code: number; stdout: string; stderr: string }) => err,
    )
    expect(failed?.code).toBe(1)
    expect(failed?.stdout).toBe('')
    expect(failed?.stderr).toBe(
      'herald: HERALD_AMQP_URL entry 2 (amqp://guest:***@127.0.0.1:5673/b) has another vhost than entry 1 (amqp://guest:***@127.0.0.1:5672/a): the URLs of one cluster may differ in host and port only\n',
    )
  })
})

describe('postgres: a Herald whose first RabbitMQ node is down', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let instance: Herald
  let client: RegardsClient
  const delivered: AsyncMessage[] = []

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    // Nothing listens on the first node's port: the client must go on to the next host of the list.
    const down = new URL(vhost.url)
    down.port = String(await freePort())
    instance = await startTestHerald({ storage, amqpUrl: `${down.href},${vhost.url}` })
    await importConfig(instance, 'cluster', [
      pluginConf('RabbitMQSender', 'system-a', { exchange: 'cluster.a', recipientLabel: 'system-a' }),
      pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
      association('created', ['system-a']),
    ])
    client = new RegardsClient(vhost.url)
    await client.listenToEvents()
    await client.rabbit.exchangeDeclare({ exchange: 'cluster.a', type: 'fanout', durable: true })
    await client.rabbit.queueDeclare({ queue: 'cluster.a.q', durable: true })
    await client.rabbit.queueBind({ queue: 'cluster.a.q', exchange: 'cluster.a', routingKey: '' })
    await client.collect('cluster.a.q', delivered)
  })

  afterAll(async () => {
    await client?.close()
    await instance?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  it('connects to the next node of HERALD_AMQP_URL and serves requests', async () => {
    const requestId = randomUUID()
    await client.publishRequest({ tenant: 'cluster', requestId, owner: 'test', body: { payload: { id: requestId }, metadata: { action: 'CREATED' } } })
    await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'SUCCESS', { timeoutMs: 20_000, wakeOn: client.onMessage })
    expect(client.eventsFor(requestId).map((e) => e.body.state)).toEqual(['GRANTED', 'SUCCESS'])
    expect(delivered.map((m) => JSON.parse((m.body as Buffer).toString('utf8')).payload.id)).toEqual([requestId])
  })

  it('asks for a 10 s AMQP heartbeat: a node that stops answering is given up after 20 s, not 120 s', async () => {
    const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', '-p', vhost.name, 'timeout', 'client_properties', '--formatter', 'json'])
    const herald = (JSON.parse(stdout) as { timeout: number; client_properties: unknown }[]).find((c) => JSON.stringify(c.client_properties).includes(`"herald-${process.pid}"`))
    expect(herald?.timeout).toBe(10)
  })
})
