import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import type { ParsedMessage } from '../src/notifier/parse-request.ts'
import { parkRecipient, unparkRecipient } from '../src/notifier/recipient-state.ts'
import { registerRequests, type Registration } from '../src/notifier/register-requests.ts'
import { SEND_NOTHING_NOW, type SendNow } from '../src/notifier/send-now.ts'
import type { RecipientConfig } from '../src/notifier/tenant-config.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

type Request = Extract<ParsedMessage, { kind: 'request' }>

/**
 * The intake claims the deliveries its worker grants as it inserts them (SENDING, leased to this instance)
 * and they are sent from memory after its commit, without the worker's claim: within the recipient's
 * limits, never to a parked recipient, and never ahead of deliveries already waiting.
 */
for (const backend of BACKENDS) {
  describe(`${backend}: deliveries claimed at intake and sent from memory`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald
    let server: http.Server
    /** Product ids received, by recipient path, in arrival order. */
    const received = new Map<string, { id: string; at: number; payload: unknown }[]>()
    let releaseTight: () => void = () => {}
    const tightReleased = new Promise<void>((resolve) => (releaseTight = resolve))

    beforeAll(async () => {
      server = http.createServer((req, res) => {
        let body = ''
        req.on('data', (chunk) => (body += chunk))
        req.on('end', async () => {
          const path = req.url!.slice(1)
          const { payload } = JSON.parse(body)
          received.set(path, [...(received.get(path) ?? []), { id: payload.id, at: Date.now(), payload }])
          if (path === 'tight') await tightReleased
          res.writeHead(204).end()
        })
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      const hook = (name: string, parameters: Record<string, string> = {}) =>
        pluginConf('WebhookSender', name, { url: `${base}/${name}`, recipientLabel: name, allowPrivateNetwork: true, ...parameters })
      await importConfig(herald, TENANT, [
        hook('fast'),
        hook('held'),
        hook('tight', { batchSize: '2', maxBatchesInFlight: '1' }),
        hook('limited', { ratePerSecond: '3' }),
        ...['fast', 'held', 'tight', 'limited'].flatMap((name) => [pluginConf('LuceneRuleMatcher', `to-${name}`, { payload_rule: `target:${name}` }), association(`to-${name}`, [name])]),
      ])
    })

    afterAll(async () => {
      releaseTight()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
      server?.close()
    })

    const recipient = async (name: string): Promise<RecipientConfig> => (await herald.ctx.configCache.get(TENANT)).recipientsByBusinessId.get(name)!

    /** Registers requests in one transaction, as the intake does, with `slots` from the running worker. */
    async function register(requests: { id: string; target: string; priority?: number; at?: Date }[], slots: SendNow): Promise<Registration> {
      const now = new Date()
      const items: Request[] = requests.map(({ id, target, priority = 0, at = now }) => ({
        kind: 'request',
        tenant: TENANT,
        requestId: id,
        requestOwner: 'test',
        requestDate: at,
        priority,
        redelivered: false,
        body: { payload: { target, id, zeta: 1, alpha: [1, 2] }, metadata: { session: 's1' } },
        bodyError: undefined,
      }))
      const config = await herald.ctx.configCache.get(TENANT)
      return herald.ctx.db.transaction().execute((tx) => registerRequests(tx, TENANT, items, false, config, now, { instanceId: herald.ctx.instanceId, slots }))
    }

    const deliveriesOf = async (requestIds: string[]) =>
      (
        await sql<{ request_id: string; state: string; attempts: number; claimed_by: string | null; priority: number }>`
          select r.request_id, d.state, d.attempts, d.claimed_by, d.priority from delivery d join notification_request r on r.id = d.request_pk
          where r.request_id = any(${requestIds}::text[]) order by d.priority desc, r.request_id`.execute(herald.ctx.db)
      ).rows

    /** Every one of `ids` reached the recipient at `path`. */
    const arrived = (path: string, ids: string[]) =>
      waitFor(() => ids.every((id) => received.get(path)?.some((r) => r.id === id)), `${ids.length} products at ${path}`, { timeoutMs: 15_000 })

    /** How many deliveries the worker would let an intake transaction claim now (given back at once). */
    const grantable = async (name: string, count: number) => {
      const slots = herald.ctx.signals.sendNow()
      const granted = slots.take(await recipient(name), count)
      slots.cancel()
      return granted
    }
    /** The worker has looked and found nothing of the recipient's waiting: new deliveries may go at once. */
    const nothingWaiting = (name: string, count = 1) => waitFor(async () => (await grantable(name, count)) === count, `${count} slots for ${name}`, { timeoutMs: 10_000 })

    it('inserts due deliveries claimed by this instance and sends them, unchanged, right after the commit', async () => {
      await nothingWaiting('fast')
      const ids = [randomUUID(), randomUUID(), randomUUID()]
      const slots = herald.ctx.signals.sendNow()
      const reg = await register(ids.map((id) => ({ id, target: 'fast' })), slots)
      expect([reg.deliveries, reg.sentNow]).toEqual([3, 3])
      // Committed, not yet sent: claimed as the worker's claim would leave them, so its claims pass them by.
      const rows = await deliveriesOf(ids)
      expect(rows.map((r) => [r.state, r.attempts, r.claimed_by])).toEqual(ids.map(() => ['SENDING', 1, herald.ctx.instanceId]))
      slots.send(reg.sending)
      await arrived('fast', ids)
      expect(received.get('fast')!.map((r) => r.id).sort()).toEqual([...ids].sort())
      expect(received.get('fast')![0].payload).toEqual({ target: 'fast', id: received.get('fast')![0].id, zeta: 1, alpha: [1, 2] })
    })

    it('inserts PENDING what goes to a recipient parked by hand, and sends it once un-parked', async () => {
      await nothingWaiting('held')
      const held = await recipient('held')
      await parkRecipient(herald.ctx.db, held, 'maintenance window')
      const ids = [randomUUID(), randomUUID()]
      const slots = herald.ctx.signals.sendNow()
      const reg = await register(ids.map((id) => ({ id, target: 'held' })), slots)
      expect([reg.deliveries, reg.sentNow]).toEqual([2, 0])
      expect((await deliveriesOf(ids)).map((r) => r.state)).toEqual(['PENDING', 'PENDING'])
      slots.send(reg.sending)
      // Its deliveries now wait in the database: the next ones wait behind them.
      expect(await grantable('held', 1)).toBe(0)
      await new Promise((r) => setTimeout(r, 500))
      expect(received.get('held')).toBeUndefined()
      await unparkRecipient(herald.ctx.db, held.id)
      herald.ctx.signals.deliveries()
      await arrived('held', ids)
      expect(received.get('held')!.map((r) => r.id).sort()).toEqual([...ids].sort())
    })

    it('claims within the batches in flight, highest priority first, and lets nothing overtake what it left waiting', async () => {
      await nothingWaiting('tight', 2)
      const t0 = Date.now() - 10_000
      const at = (s: number) => new Date(t0 + s * 1000)
      const p = { p0a: randomUUID(), p5: randomUUID(), p1: randomUUID(), p9: randomUUID(), p0b: randomUUID() }
      const slots = herald.ctx.signals.sendNow()
      const reg = await register(
        [
          { id: p.p0a, target: 'tight', priority: 0, at: at(0) },
          { id: p.p5, target: 'tight', priority: 5, at: at(1) },
          { id: p.p1, target: 'tight', priority: 1, at: at(2) },
          { id: p.p9, target: 'tight', priority: 9, at: at(3) },
        ],
        slots,
      )
      // One batch of two in flight at most: the two of highest priority.
      expect(reg.sentNow).toBe(2)
      const states = Object.fromEntries((await deliveriesOf(Object.values(p))).map((r) => [r.request_id, r.state]))
      expect([states[p.p9], states[p.p5], states[p.p1], states[p.p0a]]).toEqual(['SENDING', 'SENDING', 'PENDING', 'PENDING'])
      slots.send(reg.sending)
      // A newer request: no slot is free until the batch in flight ends, and then the waiting ones go first.
      const later = herald.ctx.signals.sendNow()
      const laterReg = await register([{ id: p.p0b, target: 'tight', priority: 0, at: at(4) }], later)
      later.send(laterReg.sending)
      expect(laterReg.sentNow).toBe(0)
      await waitFor(() => (received.get('tight')?.length ?? 0) === 2, 'the first batch at the recipient', { timeoutMs: 10_000 })
      releaseTight()
      await arrived('tight', Object.values(p))
      const order = received.get('tight')!.map((r) => r.id)
      // Batches of two, one at a time: the order holds between batches.
      expect([new Set(order.slice(0, 2)), new Set(order.slice(2, 4)), order[4]]).toEqual([new Set([p.p9, p.p5]), new Set([p.p1, p.p0a]), p.p0b])
    })

    it('claims nothing while deliveries left PENDING may be waiting, until the worker has taken them', async () => {
      await nothingWaiting('fast')
      const waiting = randomUUID()
      // Left PENDING (an intake without slots, as another instance's), and announced: an operator's retry does the same.
      await register([{ id: waiting, target: 'fast' }], SEND_NOTHING_NOW)
      herald.ctx.signals.deliveries()
      expect(await grantable('fast', 1)).toBe(0)
      await nothingWaiting('fast')
      await arrived('fast', [waiting])
    })

    it('claims no more than the recipient rate allows; the rest follows at that rate', async () => {
      await nothingWaiting('limited')
      const ids = Array.from({ length: 9 }, () => randomUUID())
      const slots = herald.ctx.signals.sendNow()
      const reg = await register(ids.map((id) => ({ id, target: 'limited' })), slots)
      expect(reg.sentNow).toBeGreaterThan(0)
      expect(reg.sentNow).toBeLessThanOrEqual(3)
      slots.send(reg.sending)
      await arrived('limited', ids)
      const times = received.get('limited')!.map((r) => r.at)
      // 3 at once, then 3 per second: the ninth no sooner than ~2 s after the first.
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(1_500)
    })

    it('gives the slots back when cancelled (the intake transaction failed)', async () => {
      await nothingWaiting('fast', 50)
      const fast = await recipient('fast')
      const slots = herald.ctx.signals.sendNow()
      // Two batches of 25 in flight at most (the defaults): all taken.
      expect(slots.take(fast, 80)).toBe(50)
      expect(await grantable('fast', 1)).toBe(0)
      slots.cancel()
      await nothingWaiting('fast', 50)
    })
  })
}
