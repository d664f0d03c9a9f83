import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { spawnHerald, waitConsumers, type HeraldProcess } from '../bench/harness.ts'
import { FAULT_RECIPIENTS, Ledger, LedgerClient, prepareFaultStorage } from './support/ledger.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'

const REQUESTS = 5_000

describe('postgres: two Herald processes on one database and one vhost', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  const heralds: HeraldProcess[] = []
  let client: LedgerClient
  const ledger = new Ledger(Object.keys(FAULT_RECIPIENTS))

  beforeAll(async () => {
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    await prepareFaultStorage(storage)
    heralds.push(spawnHerald({ amqpUrl: vhost.url, storage }), spawnHerald({ amqpUrl: vhost.url, storage }))
    client = new LedgerClient(vhost.url, ledger)
    await client.listen(FAULT_RECIPIENTS)
    await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, 2)
  }, 60_000)

  afterAll(async () => {
    await Promise.all(heralds.map((h) => h.kill()))
    await client?.close()
    await storage?.drop()
    await vhost?.drop()
  }, 30_000)

  it(`processes ${REQUESTS} requests exactly once: one terminal event per request, each product once per recipient`, async () => {
    const ids = Array.from({ length: REQUESTS }, () => randomUUID())
    await client.publishMany(ids)
    const settled = await ledger.waitSettled(60_000)
    // Late duplicates would arrive right after: give them a moment to show.
    await new Promise((r) => setTimeout(r, 1000))
    console.log(ledger.format(`two instances, ${REQUESTS} requests`))
    const report = ledger.report()
    expect(settled).toBe(true)
    expect(report.lost).toBe(0)
    expect(report.completed).toBe(REQUESTS)
    expect(report.duplicateEvents).toBe(0)
    expect(report.duplicateDeliveries).toBe(0)
    expect(report.deliveriesReceived).toBe(REQUESTS * 2)
    expect(report.strangers).toBe(0)
    // Both instances did work and neither died.
    for (const h of heralds) expect(h.child.exitCode).toBeNull()
  }, 90_000)
})
