import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RELAY_WINDOW } from '../src/amqp/outbox-relay.ts'
import { describeBacklog } from './support/ledger.ts'
import { startFaultRig, type FaultRig } from './support/fault-rig.ts'

const run = promisify(execFile)
const REQUESTS = 5_000

/**
 * Every AMQP connection of the test's vhost is closed by the broker twice while requests flow: Herald's
 * (consumers, publishers, sender) and the client's (publishes are retried until confirmed). Only this
 * vhost's connections: other test files share the broker, so never stop_app here.
 */
describe('postgres: broker connections dropped mid-run', () => {
  let rig: FaultRig

  beforeAll(async () => {
    // A dropped connection fails the batches being sent: retried after 1 s, never parked for long.
    rig = await startFaultRig({ instances: 1, policy: { maxAttempts: 20, retryMaxDelayMs: 2000, probeIntervalMs: 2000 }, metrics: true })
  }, 60_000)

  afterAll(async () => rig?.stop())

  it('loses nothing; the producer keeps publishing across the drop; duplicates are counted', async () => {
    const { vhost, storage, heralds, client, ledger } = rig
    const ids = Array.from({ length: REQUESTS }, () => randomUUID())
    const publishing = client.publishMany(ids)
    const drops: number[] = []
    for (const fraction of [0.2, 0.5]) {
      while (ledger.done < REQUESTS * fraction) await new Promise((r) => setTimeout(r, 20))
      drops.push(ledger.done)
      await run('rabbitmqctl', ['-q', 'close_all_connections', '--vhost', vhost.name, '--limit', '1000', 'test: connection drop'])
    }
    await publishing
    const settled = await ledger.waitSettled(60_000, (n) => console.log(`settled ${n}/${REQUESTS}`))
    await new Promise((r) => setTimeout(r, 1000))
    if (!settled) console.log(await describeBacklog(storage.databaseUrl!, vhost.name))
    console.log(`connections dropped at ${drops.join(' and ')} terminal events; ${client.republished} publishes retried by the producer`)
    console.log(ledger.format(`broker connection drops, ${REQUESTS} requests`))
    const report = ledger.report()
    expect(settled).toBe(true)
    expect(report.lost).toBe(0)
    expect(report.inFlight).toBe(0)
    expect(report.strangers).toBe(0)
    expect(report.conflictingEvents).toBe(0)
    expect(report.completed).toBe(REQUESTS)
    // The producer re-sends what the broker did not confirm before the drop; the broker had usually taken
    // them, so Herald rightly answers those twice (after SUCCESS a re-sent id is a new request, as in
    // REGARDS). Herald's own duplicate events are those its outbox relay had unconfirmed at a drop (it
    // publishes up to RELAY_WINDOW at once): sent again, since the broker may or may not have routed them.
    expect(report.duplicateEvents - report.duplicateEventsOfResent).toBeLessThanOrEqual(drops.length * RELAY_WINDOW)
    // Herald never makes a second delivery for a request it already delivered; it only sends a delivery
    // again when its publish was unconfirmed at a drop: at most what can be in flight then, per drop
    // 2 recipients × 2 batches in flight (maxBatchesInFlight) × 25 (HERALD_DELIVERY_BATCH_SIZE).
    expect(report.extraDeliveries - report.extraDeliveriesOfResent).toBe(0)
    expect(report.deliveriesSentAgain).toBeLessThanOrEqual(drops.length * 2 * 2 * 25)
    expect(heralds[0].child.exitCode).toBeNull()
    // herald start logs and counts a promise rejection nobody handled, and goes on. One was seen once in
    // ~40 runs of this test (a rejection with the connection's shared CONNECTION_FORCED error inside the
    // AMQP client, not reproduced since): one is reported, more is a regression.
    const unhandled = await rig.unhandledRejections()
    console.log(`unhandled promise rejections during the drops: ${unhandled}`)
    expect(unhandled).toBeLessThanOrEqual(1)
  }, 90_000)
})
