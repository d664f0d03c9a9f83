import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { loadConfig } from '../src/config.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const run = promisify(execFile)
const TENANT = 'memory'
const MAX_BYTES = 256 * 1024
// 16 messages of the largest accepted size fill the 4 MiB: the prefetch is 16, not the batch size's 500.
const MEMORY_BYTES = 16 * MAX_BYTES

describe('intake memory bound: prefetch × HERALD_MAX_MESSAGE_BYTES ≤ HERALD_INTAKE_MEMORY_BYTES', () => {
  it('prefetches two batches, lowered when the size limit is large, and keeps the batch size when it is not', () => {
    const intake = (env: NodeJS.ProcessEnv) => {
      const { intakePrefetch, intakeBatchSize } = loadConfig(env)
      return { intakePrefetch, intakeBatchSize }
    }
    expect(intake({})).toEqual({ intakePrefetch: 102, intakeBatchSize: 51 }) // 1 GiB / 10 MiB
    expect(intake({ HERALD_MAX_MESSAGE_BYTES: String(1024 * 1024) })).toEqual({ intakePrefetch: 1000, intakeBatchSize: 500 })
    expect(intake({ HERALD_MAX_MESSAGE_BYTES: String(MAX_BYTES), HERALD_INTAKE_MEMORY_BYTES: String(MEMORY_BYTES) })).toEqual({ intakePrefetch: 16, intakeBatchSize: 8 })
    expect(intake({ HERALD_INTAKE_BATCH_SIZE: '50' })).toEqual({ intakePrefetch: 100, intakeBatchSize: 50 })
    expect(intake({ HERALD_MAX_MESSAGE_BYTES: String(1024 ** 3) })).toEqual({ intakePrefetch: 1, intakeBatchSize: 1 })
  })
})

describe('postgres: oversized messages at full prefetch', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    herald = await startTestHerald({ storage, amqpUrl: vhost.url, env: { HERALD_MAX_MESSAGE_BYTES: String(MAX_BYTES), HERALD_INTAKE_MEMORY_BYTES: String(MEMORY_BYTES) } })
    await importConfig(herald, TENANT, [pluginConf('LuceneRuleMatcher', 'none', { metadata_rule: 'action:NEVER' }), association('none', [])])
    client = new RegardsClient(vhost.url)
    await client.listenToEvents()
  }, 60_000)

  afterAll(async () => {
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  it('consumes with the lowered prefetch, answers every oversized message DENIED and the requests behind them normally', async () => {
    const { stdout } = await run('rabbitmqctl', ['-q', 'list_consumers', '-p', vhost.name, 'queue_name', 'prefetch_count'])
    const prefetch = stdout.split('\n').map((l) => l.trim().split(/\s+/)).find(([queue]) => queue === NOTIFICATION_REQUEST_QUEUE)?.[1]
    expect(Number(prefetch)).toBe(16)

    // Three full prefetches of messages one byte over the limit, then ordinary requests.
    const oversized = Array.from({ length: 48 }, () => randomUUID())
    const ordinary = Array.from({ length: 5 }, () => randomUUID())
    const body = (id: string, bytes: number) => {
      const text = JSON.stringify({ payload: { id, pad: '' }, metadata: { action: 'CREATED' } })
      return Buffer.from(text.replace('"pad":""', `"pad":"${'x'.repeat(bytes - text.length)}"`))
    }
    for (const id of oversized) await client.publishRequest({ tenant: TENANT, requestId: id, owner: 'me', rawBody: body(id, MAX_BYTES + 1) })
    for (const id of ordinary) await client.publishRequest({ tenant: TENANT, requestId: id, owner: 'me', rawBody: body(id, MAX_BYTES) })

    const terminal = (id: string) => client.eventsFor(id).find((e) => ['DENIED', 'SUCCESS', 'ERROR'].includes(e.body.state))
    await waitFor(() => [...oversized, ...ordinary].every(terminal), 'an answer to every request', { timeoutMs: 60_000, wakeOn: client.onMessage })
    for (const id of oversized) {
      expect(terminal(id)!.body.state).toBe('DENIED')
      expect(terminal(id)!.body.errors.join()).toContain(`body is ${MAX_BYTES + 1} bytes, more than the ${MAX_BYTES} bytes accepted`)
    }
    // At the limit: accepted (no rule matches them, so they complete at once).
    for (const id of ordinary) expect(terminal(id)!.body.state).toBe('SUCCESS')
  }, 120_000)
})
