import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { spawnHerald, waitConsumers } from './support/herald-process.ts'
import { describeBacklog } from './support/ledger.ts'
import { startFaultRig, type FaultRig } from './support/fault-rig.ts'

const REQUESTS = 10_000

describe('postgres: kill -9 of a Herald process with 10,000 requests in flight, then a restart', () => {
  let rig: FaultRig

  beforeAll(async () => {
    rig = await startFaultRig({ instances: 1 })
  }, 60_000)

  afterAll(async () => rig?.stop())

  it('loses nothing: every request ends in one terminal event, every recipient holds every product, duplicates only what the killed process held', async () => {
    const { vhost, storage, heralds, client, ledger } = rig
    const ids = Array.from({ length: REQUESTS }, () => randomUUID())
    const publishing = client.publishMany(ids)
    // Kill when a fifth of the requests are done: the rest are in the queue, in the database, claimed or in the outbox.
    while (ledger.done < REQUESTS / 5) await new Promise((r) => setTimeout(r, 20))
    await heralds[0].kill()
    const doneAtKill = ledger.done

    // The killed process held claims on the deliveries it was sending. They go back to PENDING once it has
    // been silent for the heartbeat grace (3 s), long before their 120 s lease ends: the settling below is
    // given 70 s, so it only passes if the heartbeat recovery works.
    const db = new pg.Client({ connectionString: storage.databaseUrl })
    await db.connect()
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from delivery where state = 'SENDING'`)
    await db.end()
    const leased = rows[0].n

    heralds.push(spawnHerald({ amqpUrl: vhost.url, storage }))
    await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, 1)
    await publishing
    const settled = await ledger.waitSettled(70_000, async (n) => console.log(`settled ${n}/${REQUESTS}\n${await describeBacklog(storage.databaseUrl!, vhost.name)}`))
    await new Promise((r) => setTimeout(r, 1000))
    if (!settled) console.log(await describeBacklog(storage.databaseUrl!, vhost.name))
    console.log(`killed after ${doneAtKill} terminal events; ${leased} deliveries were claimed by the killed process`)
    console.log(ledger.format(`kill -9, ${REQUESTS} requests`))
    const report = ledger.report()
    expect(settled).toBe(true)
    expect(report.lost).toBe(0)
    expect(report.inFlight).toBe(0)
    expect(report.completed).toBe(REQUESTS)
    expect(report.conflictingEvents).toBe(0)
    expect(report.strangers).toBe(0)
    // Every duplicate has a cause the kill explains: a delivery the killed process had claimed (sent, not yet
    // recorded) and outbox events it had published but not yet deleted (at most one relay window, 50).
    // With the default policy (batches of 200, 2 in flight per recipient) that is at most 800 deliveries
    // + 500 events: usually well under 2 % of the 30,000 messages, 4.3 % at worst.
    expect(report.duplicateDeliveries).toBeLessThanOrEqual(leased)
    expect(report.duplicateEvents).toBeLessThanOrEqual(500)
    expect(report.duplicateEvents + report.duplicateDeliveries).toBeLessThanOrEqual((REQUESTS + report.deliveriesExpected) * 0.05)
  }, 120_000)
})
