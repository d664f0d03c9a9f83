import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnHerald, type HeraldProcess } from './support/herald-process.ts'
import { storeSilentWebhookTenant } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'stalled'

/**
 * A kill -9 between a batch's record and its requests' completion leaves a request SCHEDULED with every
 * delivery final. The instance that takes the dead one's claims back completes such requests at once, and
 * once more when those registered in the dead instance's last seconds count as stalled: not at the 30 s
 * safety pass.
 */
describe("postgres: the requests a dead instance recorded but did not complete", () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let server: http.Server
  let db: pg.Client
  let herald: HeraldProcess | undefined

  beforeAll(async () => {
    // The recipient never answers: the delivery taken back stays in flight, and nothing else completes.
    server = http.createServer((req) => req.resume())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    await storeSilentWebhookTenant(storage, TENANT, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)
    db = new pg.Client({ connectionString: storage.databaseUrl })
    await db.connect()
  }, 120_000)

  afterAll(async () => {
    await herald?.kill()
    await db?.end()
    server?.closeAllConnections()
    server?.close()
    await storage?.drop()
    await vhost?.drop()
  })

  /** A SCHEDULED request of TENANT with one delivery to the recipient, in `delivery` state; returns its request id. */
  async function request(delivery: { state: 'SENDING' | 'SUCCESS'; claimedBy?: string }): Promise<string> {
    const requestId = randomUUID()
    const { rows } = await db.query<{ id: number }>(
      `insert into notification_request (tenant, request_id, request_date, not_before, mode, state, payload, metadata)
        values ($1, $2, now(), now(), 'RULES', 'SCHEDULED', '{}', '{}') returning id`,
      [TENANT, requestId],
    )
    await db.query(
      `insert into delivery (tenant, request_pk, recipient_id, state, request_date, attempts, claimed_by, lease_until, sent_at)
        select $1, $2, id, $3, now(), 1, $4::uuid, case when $4::uuid is null then null else now() + interval '10 minutes' end,
          case when $3 = 'SUCCESS' then now() end
        from plugin_configuration where tenant = $1 and business_id = 'silent'`,
      [TENANT, rows[0].id, delivery.state, delivery.claimedBy ?? null],
    )
    return requestId
  }

  it('are completed seconds after its claims are taken back', async () => {
    const dead = randomUUID()
    await db.query(`insert into herald_instance (id, host, pid, heartbeat_at) values ($1, 'gone', 1, now() - interval '1 minute')`, [dead])
    // What the survivor takes back: a delivery the dead instance had claimed, with a lease of 10 minutes.
    await request({ state: 'SENDING', claimedBy: dead })
    // Recorded, never completed: registered just now, so the first pass after the takeover finds it too young.
    const recorded = await request({ state: 'SUCCESS' })

    const startedAt = Date.now()
    herald = spawnHerald({ amqpUrl: vhost.url, storage, env: { HERALD_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8,::1/128', HERALD_HEARTBEAT_MS: '250', HERALD_HEARTBEAT_GRACE_MS: '1000' } })
    const completed = async () => (await db.query(`select state from request_history where tenant = $1 and request_id = $2`, [TENANT, recorded])).rows[0]?.state
    // The safety pass runs 30 s after the start: completing well before it is the second pass's doing.
    await waitFor(async () => (await completed()) !== undefined, 'the recorded request to be completed', { timeoutMs: 20_000, pollMs: 100 })
    console.log(`completed ${Date.now() - startedAt} ms after the surviving instance started`)
    expect(await completed()).toBe('SUCCESS')
    const { rows } = await db.query<{ claimed_by: string | null }>(`select d.claimed_by from delivery d join notification_request r on r.id = d.request_pk
      where r.tenant = $1 and d.state = 'SENDING'`, [TENANT])
    // The dead instance's claim was taken back (and claimed again by the survivor): the takeover ran.
    expect(rows.map((r) => r.claimed_by)).not.toContain(dead)
  }, 60_000)
})
