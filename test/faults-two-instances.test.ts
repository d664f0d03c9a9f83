import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFaultRig, type FaultRig } from './support/fault-rig.ts'

const REQUESTS = 5_000

describe('postgres: two Herald processes on one database and one vhost', () => {
  let rig: FaultRig

  beforeAll(async () => {
    rig = await startFaultRig({ instances: 2 })
  }, 60_000)

  afterAll(async () => rig?.stop())

  it(`processes ${REQUESTS} requests exactly once: one terminal event per request, each product once per recipient`, async () => {
    const { heralds, client, ledger } = rig
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
