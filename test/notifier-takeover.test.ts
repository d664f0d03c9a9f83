import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { spawnHerald, waitConsumers, type HeraldProcess } from './support/herald-process.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { storeSilentWebhookTenant } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'takeover'
// Short settings, so that the bound is checked in a second rather than in the defaults' 4 s.
const HEARTBEAT_MS = 250
const GRACE_MS = 1000

/**
 * A webhook recipient that never answers: the instance that claimed its delivery holds the claim until it
 * dies or stops. Whoever takes the claim over sends it again: the second request the receiver sees.
 */
describe('postgres: a dead or stopping instance\'s claims go back to work', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let server: http.Server
  let client: RegardsClient
  const heralds: HeraldProcess[] = []
  /** When each webhook request arrived, by webhook-id. */
  const arrivals = new Map<string, number[]>()

  const start = (env: Record<string, string>) => {
    const herald = spawnHerald({ amqpUrl: vhost.url, storage, env: { HERALD_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8,::1/128', ...env } })
    heralds.push(herald)
    return herald
  }
  const waitArrivals = async (id: string, n: number, timeoutMs: number) => {
    await waitFor(() => (arrivals.get(id)?.length ?? 0) >= n, `${n} requests to webhook ${id}`, { timeoutMs, pollMs: 10 })
    return arrivals.get(id)![n - 1]
  }

  beforeAll(async () => {
    server = http.createServer((req) => {
      const id = String(req.headers['webhook-id'])
      arrivals.set(id, [...(arrivals.get(id) ?? []), Date.now()])
      req.resume() // and never answer
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    await storeSilentWebhookTenant(storage, TENANT, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)
    client = new RegardsClient(vhost.url)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(heralds.map((h) => h.kill()))
    await client?.close()
    server?.closeAllConnections()
    server?.close()
    await storage?.drop()
    await vhost?.drop()
  })

  /**
   * Starts two instances, has one of them claim one delivery (sent, never answered) and tells which: the
   * holder, whose claim the other, the taker, must take over.
   */
  async function claimedBy(env: Record<string, string>, steadyMs: number): Promise<{ holder: HeraldProcess; taker: HeraldProcess; webhookId: string }> {
    const instances = [start(env), start(env)]
    await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, 2)
    await new Promise((r) => setTimeout(r, steadyMs))
    const before = new Set(arrivals.keys())
    const requestId = randomUUID()
    await client.publishRequest({ tenant: TENANT, requestId, owner: 'me', body: { payload: { id: requestId }, metadata: { action: 'CREATED' } } })
    await waitFor(() => [...arrivals.keys()].some((k) => !before.has(k)), 'an instance to send the delivery', { pollMs: 10 })
    const webhookId = [...arrivals.keys()].find((k) => !before.has(k))!
    const db = new pg.Client({ connectionString: storage.databaseUrl })
    await db.connect()
    try {
      const { rows } = await db.query<{ pid: number }>(`select i.pid from delivery d join herald_instance i on i.id = d.claimed_by
        where d.id = $1 and d.state = 'SENDING'`, [Number(webhookId.replace('herald-', ''))])
      const holder = instances.find((h) => h.pid === rows[0]?.pid)
      if (!holder) throw new Error(`delivery ${webhookId} is claimed by no instance of this test: ${JSON.stringify(rows)}`)
      return { holder, taker: instances.find((h) => h !== holder)!, webhookId }
    } finally {
      await db.end()
    }
  }

  it(`a killed instance's claim is sent again by another within the grace and a few beats (heartbeat ${HEARTBEAT_MS} ms, grace ${GRACE_MS} ms)`, async () => {
    const { holder, taker, webhookId } = await claimedBy({ HERALD_HEARTBEAT_MS: String(HEARTBEAT_MS), HERALD_HEARTBEAT_GRACE_MS: String(GRACE_MS) },
      // A taker takes over only once it has itself beaten steadily for the grace.
      GRACE_MS + 500,
    )
    const killedAt = Date.now()
    await holder.kill()
    const resentAt = await waitArrivals(webhookId, 2, 20_000)
    const tookMs = resentAt - killedAt
    console.log(`kill -9 → the delivery sent again by the other instance after ${tookMs} ms (grace ${GRACE_MS} ms, heartbeat ${HEARTBEAT_MS} ms)`)
    // Silent from the last beat (≤ 1 beat before the kill) + grace, then the next recovery pass (≤ 1 beat),
    // the claim and the send: grace + 2 beats, and one more beat of slack for a loaded machine.
    expect(tookMs).toBeLessThanOrEqual(GRACE_MS + 3 * HEARTBEAT_MS)
    await taker.kill()
  }, 120_000)

  it('SIGTERM hands the claims back at once: another instance sends them long before the grace', async () => {
    // A grace of a minute: only the hand-back can explain a quick re-send.
    const { holder, taker, webhookId } = await claimedBy({ HERALD_HEARTBEAT_MS: '1000', HERALD_HEARTBEAT_GRACE_MS: '60000' }, 500)
    const stoppedAt = Date.now()
    holder.child.kill('SIGTERM')
    expect(await holder.exited).toBe(0)
    const resentAt = await waitArrivals(webhookId, 2, 20_000)
    console.log(`SIGTERM → the holder exited after ${Date.now() - stoppedAt} ms; its delivery sent again after ${resentAt - stoppedAt} ms`)
    // The batch in flight gets 2 s to finish, then its claim is handed back and the other instance woken.
    expect(resentAt - stoppedAt).toBeLessThan(10_000)
    const db = new pg.Client({ connectionString: storage.databaseUrl })
    await db.connect()
    try {
      const { rows } = await db.query<{ pid: number }>('select pid from herald_instance')
      expect(rows.map((r) => r.pid)).not.toContain(holder.pid)
    } finally {
      await db.end()
    }
    await taker.kill()
  }, 120_000)
})
