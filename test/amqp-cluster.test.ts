import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnHerald, waitConsumers, type HeraldProcess } from './support/herald-process.ts'
import { RELAY_WINDOW } from '../src/amqp/outbox-relay.ts'
import { loadConfig } from '../src/config.ts'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { FAULT_RECIPIENTS, Ledger, LedgerClient, describeBacklog, prepareFaultStorage } from './support/ledger.ts'
import { startRabbitCluster, type RabbitCluster } from './support/rabbit-cluster.ts'
import { createTestStorage, type TestStorage } from './support/services.ts'

const REQUESTS = 3_000
/** Requests per second the producer publishes: the kill falls in the middle of a stream, not after it. */
const RATE = 300
/** Herald's defaults: the intake prefetch (what the broker may deliver again) and the deliveries per batch. */
const { intakePrefetch: INTAKE_PREFETCH, deliveryBatchSize: DELIVERY_BATCH } = loadConfig({})
/**
 * Classic mirrored queues (RabbitMQ 3.10): every REGARDS queue Herald declares has x-max-priority, which
 * quorum queues do not support there. Mirrored on every node, synchronised at once, so that a lost node
 * leaves a synchronised mirror to promote whichever node it was.
 */
const HA_POLICY = { name: 'herald-ha', pattern: '.*', definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' } }

describe('postgres: Herald on a three-node RabbitMQ cluster, kill -9 of the node it is connected to', () => {
  let cluster: RabbitCluster
  let storage: TestStorage
  let herald: HeraldProcess
  let client: LedgerClient
  const ledger = new Ledger(Object.keys(FAULT_RECIPIENTS))

  beforeAll(async () => {
    cluster = await startRabbitCluster({ size: 3, vhost: 'regards.multitenant.manager', policies: [HA_POLICY] })
    storage = await createTestStorage('postgres')
    // A delivery that fails while the node is lost is retried within 2 s, not parked.
    await prepareFaultStorage(storage, { policy: { maxAttempts: 20, retryMaxDelayMs: 2000, probeIntervalMs: 2000 } })
    herald = spawnHerald({ amqpUrl: cluster.urls, storage })
    // The producer and the ledger on the last node: Herald starts on the first node of its list, the one
    // killed below, and the ledger's statements must not be what the kill disturbs.
    client = new LedgerClient(cluster.nodes[2].url, ledger)
    await client.listen(FAULT_RECIPIENTS)
    await waitConsumers(cluster.nodes[2].url, NOTIFICATION_REQUEST_QUEUE, 1)
  }, 150_000)

  afterAll(async () => {
    await herald?.kill()
    await client?.close()
    await cluster?.stop()
    await storage?.drop()
  })

  it('loses nothing; duplicates are counted and bounded by what was in flight at the kill', async () => {
    // Found before the run: rabbitmqctl takes seconds on a loaded machine.
    const node = await cluster.nodeOfConnection(`herald-${herald.pid}`)
    if (!node) throw new Error(`no connection named herald-${herald.pid} on the cluster`)
    expect(node).not.toBe(cluster.nodes[2])
    const ids = Array.from({ length: REQUESTS }, () => randomUUID())
    const started = Date.now()
    const publishing = (async () => {
      for (let i = 0; i < ids.length; i += 30) {
        await client.publishMany(ids.slice(i, i + 30))
        const due = started + ((i + 30) / RATE) * 1000
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()))
      }
    })()

    while (ledger.done < REQUESTS * 0.3) await new Promise((r) => setTimeout(r, 20))
    const doneAtKill = ledger.done
    const killedAt = Date.now()
    await node.kill()

    // The longest time the terminal events stopped arriving after the kill: what losing a node costs.
    let longestPause = 0
    let lastDone = ledger.done
    let lastChange = killedAt
    const watch = setInterval(() => {
      const now = Date.now()
      if (ledger.done !== lastDone) {
        longestPause = Math.max(longestPause, now - lastChange)
        lastDone = ledger.done
        lastChange = now
      }
    }, 50)
    await publishing
    const settled = await ledger.waitSettled(90_000, (n) => console.log(`settled ${n}/${REQUESTS}`))
    clearInterval(watch)
    // Late duplicates (a redelivered batch) arrive after the last first copy: give them a moment.
    await new Promise((r) => setTimeout(r, 1000))
    const settledAfterKill = Date.now() - killedAt
    if (!settled) console.log(await describeBacklog(storage.databaseUrl!))
    const reconnectedTo = await cluster.nodeOfConnection(`herald-${herald.pid}`)
    console.log(
      `killed ${node.name} (Herald's node) after ${doneAtKill} terminal events; Herald went on on ${reconnectedTo?.name ?? 'no node'}; ` +
        `terminal events paused ${longestPause} ms at most after the kill; all settled ${settledAfterKill} ms after it; ` +
        `${client.republished} publishes retried by the producer`,
    )
    console.log(ledger.format(`kill -9 of a RabbitMQ cluster node, ${REQUESTS} requests at ${RATE}/s`))

    const report = ledger.report()
    expect(settled).toBe(true)
    expect(report.lost).toBe(0)
    expect(report.inFlight).toBe(0)
    expect(report.completed).toBe(REQUESTS)
    expect(report.conflictingEvents).toBe(0)
    expect(report.strangers).toBe(0)
    expect(reconnectedTo).toBeDefined()
    expect(reconnectedTo).not.toBe(node)
    expect(herald.child.exitCode).toBeNull()
    // What can be in flight when Herald's node dies, and so come again:
    // - events: the outbox window the relay had published and not yet seen confirmed (RELAY_WINDOW), and the
    //   SUCCESS of requests the broker delivers again (the intake prefetch, INTAKE_PREFETCH, unacked at the kill);
    // - deliveries sent again with the same message id: the batches in flight, 2 recipients × 2 batches;
    // - a second delivery for one request: only a request delivered again after it completed (INTAKE_PREFETCH),
    //   to each of the 2 recipients.
    // The producer's own re-sends (publishes unconfirmed at the kill) are counted apart by the ledger.
    expect(report.duplicateEvents - report.duplicateEventsOfResent).toBeLessThanOrEqual(RELAY_WINDOW + INTAKE_PREFETCH)
    expect(report.deliveriesSentAgain).toBeLessThanOrEqual(2 * 2 * DELIVERY_BATCH)
    expect(report.extraDeliveries - report.extraDeliveriesOfResent).toBeLessThanOrEqual(2 * INTAKE_PREFETCH)
  }, 150_000)
})
