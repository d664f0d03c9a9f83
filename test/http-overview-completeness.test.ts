import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegardsClient } from './support/amqp-client.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { luceneRule, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const OTHER = 'project2'

for (const backend of BACKENDS) {
  describe(`${backend}: the overview and completeness figures follow real deliveries`, () => {
    let f: HttpFixture
    let client: RegardsClient
    const ids = Array.from({ length: 3 }, () => randomUUID())
    const urns = ids.map((id) => `URN:FEATURE:DATA:${TENANT}:${id}:V1`)
    const today = new Date().toISOString().slice(0, 10)
    const get = (url: string, tenant = TENANT) => f.call('GET', url, { as: [tenant, 'EXPLOIT'] }).then((r) => r.json())

    /** Per recipient, what the requests' own records say was sent and failed: the figures the overview must give. */
    async function recorded(): Promise<Record<string, { delivered: number; failed: number }>> {
      const totals: Record<string, { delivered: number; failed: number }> = {}
      for (const id of ids) {
        for (const d of (await get(`/api/v1/requests/${id}`)).deliveries) {
          const t = (totals[d.recipient] ??= { delivered: 0, failed: 0 })
          if (d.sentAt) t.delivered++
          t.failed += d.history.length
        }
      }
      return totals
    }
    const cellOf = (matrix: any, recipient: string) => matrix.recipients.find((r: any) => r.businessId === recipient).cells.find((c: any) => c.day === today)

    beforeAll(async () => {
      f = await startHttpFixture(backend)
      client = new RegardsClient(f.vhost.url)
      // ext.flaky exists as a direct exchange: the sender's fanout declaration fails until it is deleted.
      await client.rabbit.exchangeDeclare({ exchange: 'ext.flaky', type: 'direct', durable: true })
      const recipients = [
        rabbitRecipient('flaky', { exchange: 'ext.flaky', maxAttempts: '1', parkAfterFailures: '1000' }),
        rabbitRecipient('good'),
        rabbitRecipient('acked', { ackRequired: true }),
      ]
      for (const body of recipients) expect((await f.call('POST', '/api/v1/recipients', { body })).statusCode).toBe(201)
      expect((await f.call('POST', '/api/v1/rules', { body: luceneRule('created', 'action:CREATED', ['flaky', 'good', 'acked']) })).statusCode).toBe(201)
      for (const [i, requestId] of ids.entries()) {
        await client.publishRequest({ tenant: TENANT, requestId, body: { payload: { id: `product-${i}`, urn: urns[i] }, metadata: { action: 'CREATED' } } })
      }
      await waitFor(async () => (await get('/api/v1/requests?state=ERROR')).items.length === 3, 'three requests in ERROR (flaky failed)', { timeoutMs: 30_000 })
      // The catalog's record of an acknowledgement of the first product by "acked" (what a DisseminationAckEvent
      // leaves, src/catalog/handle-acks.ts): the catalog of this Herald disseminated nothing, so it is written here.
      await sql`with p as (insert into catalog_product (tenant, urn, kind, provider_id, version, content)
          values (${TENANT}, ${urns[0]}, 'FEATURE', 'product-0', 1, '{}') returning id)
        insert into catalog_dissemination (product_id, tenant, label, request_date, ack_date) select id, ${TENANT}, 'acked', now(), now() from p`.execute(f.herald.ctx.db)
    }, 60_000)
    afterAll(async () => {
      await client?.close()
      await f?.close()
    })

    it('the overview gives each recipient what its deliveries record: sent and failed in the last hour, errors, intake', async () => {
      const expected = await recorded()
      expect(expected.flaky).toEqual({ delivered: 0, failed: 3 })
      const overview = await get('/api/v1/overview')
      const byId = Object.fromEntries(overview.recipients.map((r: any) => [r.businessId, r]))
      expect(Object.keys(byId).sort()).toEqual(['acked', 'flaky', 'good'])
      for (const [recipient, counts] of Object.entries(expected)) {
        expect(byId[recipient].lastHour, recipient).toEqual(counts)
        expect(byId[recipient].hourly).toHaveLength(24)
        expect(byId[recipient].hourly[23]).toEqual(counts)
        expect(byId[recipient].hourly.slice(0, 23).every((h: any) => h.delivered === 0 && h.failed === 0)).toBe(true)
      }
      expect(byId.flaky).toMatchObject({ errors: 3, backlog: 0, oldestWaitingSeconds: 0, parked: false, active: true })
      expect(overview.intake.lastHour).toBe(3)
      expect(overview.intake.perMinute).toHaveLength(60)
      expect(overview.intake.perMinute.reduce((a: number, b: number) => a + b, 0)).toBe(3)
      expect(overview.deadLetters).toBe(0)
    })

    it('the completeness matrix counts today’s matched, delivered and acknowledged deliveries; the gap lists exactly what is missing', async () => {
      const matrix = await get('/api/v1/completeness?days=14')
      expect(matrix.days).toHaveLength(14)
      expect(matrix.days[13]).toBe(today)
      expect(cellOf(matrix, 'flaky')).toEqual({ day: today, matched: 3, delivered: 0, acknowledged: null })
      expect(cellOf(matrix, 'good')).toEqual({ day: today, matched: 3, delivered: 3, acknowledged: null })
      expect(cellOf(matrix, 'acked')).toEqual({ day: today, matched: 3, delivered: 3, acknowledged: 1 })
      const before = matrix.recipients.flatMap((r: any) => r.cells.filter((c: any) => c.day !== today))
      expect(before.every((c: any) => c.matched === 0)).toBe(true)
      expect((await get('/api/v1/completeness')).days).toHaveLength(7)

      const flaky = await get(`/api/v1/completeness/gap?recipient=flaky&day=${today}`)
      expect(flaky.items.map((i: any) => [i.requestId, i.payloadId, i.state, i.live]).sort()).toEqual(ids.map((id, i) => [id, `product-${i}`, 'ERROR', true]).sort())
      expect([...flaky.retryable].sort()).toEqual([...ids].sort())
      const acked = await get(`/api/v1/completeness/gap?recipient=acked&day=${today}`)
      expect(acked.items.map((i: any) => [i.payloadId, i.urn, i.state]).sort()).toEqual([1, 2].map((i) => [`product-${i}`, urns[i], 'SUCCESS']))
      expect(acked.retryable).toEqual([])
      expect((await get(`/api/v1/completeness/gap?recipient=good&day=${today}`)).items).toEqual([])
    })

    it('retrying what the gap lists closes it: the deliveries succeed, the requests complete, the figures follow from the history', async () => {
      await client.rabbit.exchangeDelete({ exchange: 'ext.flaky' })
      const gap = await get(`/api/v1/completeness/gap?recipient=flaky&day=${today}`)
      const retried = await f.call('POST', '/api/v1/requests/retry', { as: [TENANT, 'EXPLOIT'], body: { requestIds: gap.retryable, recipient: 'flaky' } })
      expect(retried.json()).toEqual({ requests: 3, deliveries: 3, rematched: 0 })
      await waitFor(async () => (await get(`/api/v1/completeness/gap?recipient=flaky&day=${today}`)).items.length === 0, 'the flaky gap to close', { timeoutMs: 20_000 })
      await waitFor(async () => (await get('/api/v1/requests?state=SUCCESS')).items.length === 3, 'the requests to complete', { timeoutMs: 20_000 })
      const matrix = await get('/api/v1/completeness')
      expect(cellOf(matrix, 'flaky')).toEqual({ day: today, matched: 3, delivered: 3, acknowledged: null })
      // Completed requests are read from the history: the acknowledgement still counts, the rest of the gap stays.
      expect(cellOf(matrix, 'acked')).toEqual({ day: today, matched: 3, delivered: 3, acknowledged: 1 })
      const acked = await get(`/api/v1/completeness/gap?recipient=acked&day=${today}`)
      expect(acked.items.map((i: any) => [i.payloadId, i.live])).toEqual(expect.arrayContaining([['product-1', false], ['product-2', false]]))
      const overview = await get('/api/v1/overview')
      const expected = await recorded()
      expect(expected.flaky).toEqual({ delivered: 3, failed: 3 })
      for (const r of overview.recipients) expect(r.lastHour, r.businessId).toEqual(expected[r.businessId])
      expect(overview.intake.lastHour).toBe(3)
    })

    it.runIf(backend === 'postgres')('the CLI gives the same figures', async () => {
      const env = cliEnv(f.storage, f.vhost.url)
      /** A command's JSON answer; a refusal fails the test with its message. */
      const herald = async (...args: string[]) => {
        const { code, stdout, stderr } = await runHerald(args, { env, timeoutMs: 60_000 })
        expect(code, stderr).toBe(0)
        return JSON.parse(stdout)
      }
      const rest = await get('/api/v1/overview')
      const cli = await herald('overview', '--tenant', TENANT, '--json')
      expect(cli.recipients.map((r: any) => [r.businessId, r.lastHour, r.errors, r.backlog])).toEqual(rest.recipients.map((r: any) => [r.businessId, r.lastHour, r.errors, r.backlog]))
      expect(cli.intake.lastHour).toBe(rest.intake.lastHour)
      expect(await herald('completeness', '--tenant', TENANT, '--days', '14', '--json')).toEqual(await get('/api/v1/completeness?days=14'))
      const gap = await herald('completeness', 'gap', '--tenant', TENANT, '--recipient', 'acked', '--day', today, '--json')
      expect(gap).toEqual(await get(`/api/v1/completeness/gap?recipient=acked&day=${today}`))
      const refused = await runHerald(['completeness', 'gap', '--tenant', TENANT, '--recipient', 'nobody', '--day', today], { env, timeoutMs: 60_000 })
      expect([refused.code, refused.stderr]).toEqual([3, expect.stringMatching(/no recipient nobody/)])
    }, 120_000)

    it('another tenant sees none of it; bad input is refused by name', async () => {
      const overview = await get('/api/v1/overview', OTHER)
      expect(overview).toMatchObject({ recipients: [], intake: { lastHour: 0 }, deadLetters: 0 })
      expect((await get('/api/v1/completeness', OTHER)).recipients).toEqual([])
      const gap = await f.call('GET', `/api/v1/completeness/gap?recipient=flaky&day=${today}`, { as: [OTHER, 'EXPLOIT'] })
      expect([gap.statusCode, gap.json().code]).toEqual([404, 'HERALD_ERR_NOT_FOUND'])
      for (const url of ['/api/v1/completeness?days=0', '/api/v1/completeness?days=32', '/api/v1/completeness/gap?recipient=flaky&day=2026-02-30', '/api/v1/completeness/gap?recipient=flaky']) {
        const res = await f.call('GET', url)
        expect([res.statusCode, res.json().code], url).toEqual([400, 'HERALD_ERR_VALIDATION'])
      }
      expect((await f.call('GET', '/api/v1/overview', { as: null })).statusCode).toBe(401)
    })
  })
}
