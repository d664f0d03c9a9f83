import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnHerald, type HeraldProcess } from './support/herald-process.ts'
import { createTestStorage, createVhost, freePort, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

/** A rejected promise that nobody awaits is logged and counted; the process keeps its work. */
describe('postgres: herald start and an unhandled promise rejection', () => {
  let herald: HeraldProcess | undefined
  let storage: TestStorage | undefined
  let vhost: Awaited<ReturnType<typeof createVhost>> | undefined
  let port: number

  beforeAll(async () => {
    storage = await createTestStorage('postgres')
    vhost = await createVhost()
    port = await freePort()
    herald = spawnHerald({
      amqpUrl: vhost.url,
      storage,
      roles: 'notifier,http',
      env: {
        HERALD_HTTP_PORT: String(port),
        HERALD_LOG_LEVEL: 'silent',
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${path.resolve(import.meta.dirname, 'support/reject-unhandled.mjs')}`.trim(),
      },
    })
  }, 60_000)

  afterAll(async () => {
    await herald?.stop()
    await vhost?.drop()
    await storage?.drop()
  })

  it('keeps running and counts it in herald_unhandled_rejections_total', async () => {
    let metrics = ''
    await waitFor(async () => {
      metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '')
      return /^herald_unhandled_rejections_total 1$/m.test(metrics) || herald!.child.exitCode !== null
    }, 'the rejection counted', { timeoutMs: 30_000, pollMs: 200 })
    expect(metrics).toMatch(/^herald_unhandled_rejections_total 1$/m)
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`)
    expect([ready.status, herald!.child.exitCode]).toEqual([200, null])
  })
})
