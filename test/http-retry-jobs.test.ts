import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { RegardsClient } from './support/amqp-client.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { luceneRule, param, rabbitRecipient, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { BACKENDS } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'

for (const backend of BACKENDS) {
  describe(`${backend}: bulk retry by filter (estimate, job, progress, cancel) and the rule decisions of a stored request`, () => {
    let f: HttpFixture
    let client: RegardsClient
    // Ten requests of mission A, twenty of mission B; every delivery to "flaky" fails until its exchange is
    // fixed, each at its first attempt, and the recipient is not parked (its deliveries would wait instead).
    const missionA = Array.from({ length: 10 }, (_, i) => `bulk-a-${i}`)
    const missionB = Array.from({ length: 20 }, (_, i) => `bulk-b-${i}`)
    const get = (url: string, role = 'EXPLOIT', tenant = TENANT) => f.call('GET', url, { as: [tenant, role] })
    const states = async (ids: string[]) => {
      const { rows } = await sql<{ state: string; n: number }>`select state, count(*)::int as n from notification_request
        where tenant = ${TENANT} and request_id = any(${ids}::text[]) group by state`.execute(f.herald.ctx.db)
      const done = await sql<{ n: number }>`select count(*)::int as n from request_history where tenant = ${TENANT} and request_id = any(${ids}::text[])`.execute(f.herald.ctx.db)
      return { ...Object.fromEntries(rows.map((r) => [r.state, r.n])), SUCCESS: done.rows[0].n } as Record<string, number>
    }
    const follow = async (id: number) => {
      let job: any
      await waitFor(async () => (job = (await get(`/api/v1/retry-jobs/${id}`)).json()).state !== 'running', `bulk retry ${id} to end`, { timeoutMs: 30_000 })
      return job
    }

    beforeAll(async () => {
      // One request per transaction: the twenty-request job lasts long enough to be cancelled half-way.
      f = await startHttpFixture(backend, { env: { HERALD_RETRY_JOB_BATCH_SIZE: '1' } })
      client = new RegardsClient(f.vhost.url)
      await client.listenToEvents()
      await client.rabbit.exchangeDeclare({ exchange: 'ext.flaky', type: 'direct', durable: true })
      for (const body of [rabbitRecipient('flaky', { exchange: 'ext.flaky', maxAttempts: '1', parkAfterFailures: '1000' }), rabbitRecipient('other'), { ...rabbitRecipient('asleep'), active: false }]) {
        expect((await f.call('POST', '/api/v1/recipients', { body })).statusCode).toBe(201)
      }
      expect((await f.call('POST', '/api/v1/rules', { body: luceneRule('created', 'action:CREATED', ['flaky', 'asleep']) })).statusCode).toBe(201)
      expect((await f.call('POST', '/api/v1/rules', { body: luceneRule('deleted', 'action:DELETED', ['other']) })).statusCode).toBe(201)
      for (const [mission, ids] of [['A', missionA], ['B', missionB]] as const) {
        for (const requestId of ids) {
          await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload: { id: requestId, properties: { mission, tags: ['x', 'y'] } }, metadata: { action: 'CREATED' } } })
        }
      }
      await waitFor(async () => (await states([...missionA, ...missionB])).ERROR === 30, 'thirty requests in ERROR', { timeoutMs: 30_000 }).catch(async (e) => { console.log('STATES', await states([...missionA, ...missionB]), (await sql`select d.state, d.attempts, d.last_error, d.next_attempt_at, count(*)::int from delivery d group by 1,2,3,4`.execute(f.herald.ctx.db)).rows, (await f.call('GET','/api/v1/recipients/flaky')).json().state, client.events.slice(0, 3).map((x: any) => x.body)); throw e })
    }, 60_000)
    afterAll(async () => {
      await client?.close()
      await f?.close()
    })

    it('filters the requests listing on a payload field, and refuses a field path that is not one', async () => {
      const a = await get('/api/v1/requests?field=properties.mission&value=A&limit=100')
      expect(a.json().items.map((r: any) => r.requestId).sort()).toEqual([...missionA].sort())
      expect((await get('/api/v1/requests?field=properties.mission&value=C')).json().items).toEqual([])
      for (const bad of ['field=properties.mission', 'value=A', 'field=a..b&value=1', 'field=a.b.c.d.e.f&value=1', `field=${encodeURIComponent("x'),y")}&value=1`]) {
        const res = await get(`/api/v1/requests?${bad}`)
        expect([bad, res.statusCode, res.json().code]).toEqual([bad, 400, 'HERALD_ERR_VALIDATION'])
      }
    })

    it('counts what a filter would retry, exactly', async () => {
      expect((await get('/api/v1/retry-jobs/estimate?state=ERROR')).json()).toEqual({ requests: 30, exact: true })
      expect((await get('/api/v1/retry-jobs/estimate?field=properties.mission&value=A')).json()).toEqual({ requests: 10, exact: true })
      expect((await get('/api/v1/retry-jobs/estimate?recipient=other')).json()).toEqual({ requests: 0, exact: true })
      expect((await get('/api/v1/retry-jobs/estimate?recipient=nobody')).json()).toEqual({ requests: 0, exact: true })
      expect((await get('/api/v1/retry-jobs/estimate?state=SUCCESS')).json()).toEqual({ requests: 0, exact: true })
      expect((await get('/api/v1/retry-jobs/estimate?field=x')).statusCode).toBe(400)
    })

    it('retries what the filter selects as a job (EXPLOIT), followed to its end, audited once with its count', async () => {
      await client.rabbit.exchangeDelete({ exchange: 'ext.flaky' })
      const started = await f.call('POST', '/api/v1/retry-jobs', { as: [TENANT, 'EXPLOIT'], body: { filter: { state: 'ERROR', field: 'properties.mission', value: 'A' } } })
      expect(started.statusCode).toBe(202)
      expect(started.json()).toMatchObject({ state: 'running', total: 10, totalExact: true, done: 0, role: 'EXPLOIT', filter: { state: 'ERROR', field: 'properties.mission', value: 'A' } })
      const job = await follow(started.json().id)
      expect(job).toMatchObject({ state: 'done', total: 10, done: 10, deliveries: 10, rematched: 0, finishedAt: expect.any(String), taken: false })
      await waitFor(async () => (await states(missionA)).SUCCESS === 10, 'mission A delivered', { timeoutMs: 20_000 })
      expect(await states(missionB)).toEqual({ ERROR: 20, SUCCESS: 0 })
      const { rows } = await sql<any>`select subject, role, action, target, outcome, detail from audit_entry where tenant = ${TENANT} and action like 'requests.bulk-retry%'`.execute(f.herald.ctx.db)
      expect(rows).toEqual([{ subject: 'herald-cli', role: 'EXPLOIT', action: 'requests.bulk-retry', target: `retry-jobs/${job.id}`, outcome: 'ok', detail: expect.stringContaining('10 requests retried (10 deliveries, 0 rematched) of 10') }])
    })

    it('runs one job at a time per tenant; a cancelled job retries nothing more and leaves the rest as they were', async () => {
      const started = (await f.call('POST', '/api/v1/retry-jobs', { body: { filter: { field: 'properties.mission', value: 'B' } } })).json()
      expect(started).toMatchObject({ state: 'running', total: 20 })
      const second = await f.call('POST', '/api/v1/retry-jobs', { body: { filter: {} } })
      expect([second.statusCode, second.json().code, second.json().jobId]).toEqual([409, 'HERALD_ERR_RETRY_JOB_RUNNING', started.id])
      await waitFor(async () => (await get(`/api/v1/retry-jobs/${started.id}`)).json().done >= 2, 'two batches', { timeoutMs: 20_000 })
      // Another tenant sees no such job, and cannot cancel it.
      expect((await get(`/api/v1/retry-jobs/${started.id}`, 'ADMIN', 'project2')).statusCode).toBe(404)
      expect((await f.call('DELETE', `/api/v1/retry-jobs/${started.id}`, { as: ['project2', 'ADMIN'] })).statusCode).toBe(404)
      expect((await get('/api/v1/retry-jobs', 'ADMIN', 'project2')).json().items).toEqual([])
      const cancelled = await f.call('DELETE', `/api/v1/retry-jobs/${started.id}`, { as: [TENANT, 'EXPLOIT'] })
      expect(cancelled.statusCode).toBe(200)
      const job = cancelled.json()
      expect(job).toMatchObject({ state: 'cancelled', finishedAt: expect.any(String) })
      expect(job.done).toBeGreaterThanOrEqual(2)
      expect(job.done).toBeLessThan(20)
      await new Promise((r) => setTimeout(r, 1500))
      expect((await get(`/api/v1/retry-jobs/${started.id}`)).json()).toMatchObject({ state: 'cancelled', done: job.done })
      await waitFor(async () => (await states(missionB)).SUCCESS === job.done, 'the retried part delivered', { timeoutMs: 20_000 })
      expect(await states(missionB)).toEqual({ ERROR: 20 - job.done, SUCCESS: job.done })
      // Cancelling again answers the job as it is; the listing shows both jobs, newest first.
      expect((await f.call('DELETE', `/api/v1/retry-jobs/${started.id}`)).json()).toMatchObject({ state: 'cancelled', done: job.done })
      expect((await get('/api/v1/retry-jobs')).json().items.map((j: any) => j.state)).toEqual(['cancelled', 'done'])
      expect((await get('/api/v1/retry-jobs?state=running')).json().items).toEqual([])
      expect((await get('/api/v1/retry-jobs/999999')).statusCode).toBe(404)
      expect((await get('/api/v1/retry-jobs/abc')).statusCode).toBe(400)
    })

    it('explains, per recipient, the rule decision on a stored request: match, the failing clause, inactive, rule error', async () => {
      const tagged = rabbitRecipient('tagged')
      expect((await f.call('POST', '/api/v1/recipients', { body: tagged })).statusCode).toBe(201)
      // DefaultRuleMatcher cannot read a two-element array as a value: REGARDS throws, Herald reports a rule error.
      const byTag = { businessId: 'by-tag', pluginId: 'DefaultRuleMatcher', label: 'by tag', parameters: [param('attributeToSeek', 'tags'), param('attributeValueToSeek', 'x')], recipients: ['tagged'] }
      expect((await f.call('POST', '/api/v1/rules', { body: byTag })).statusCode).toBe(201)
      const res = await get(`/api/v1/requests/${missionB[19]}/decisions`)
      expect(res.statusCode).toBe(200)
      const byRecipient = Object.fromEntries(res.json().recipients.map((r: any) => [r.recipient, r]))
      expect(Object.keys(byRecipient)).toEqual(['asleep', 'flaky', 'other', 'tagged'])
      expect(byRecipient.flaky).toMatchObject({ decision: 'MATCHED', delivered: true, rules: [{ rule: 'created', outcome: 'match' }] })
      expect(byRecipient.other).toMatchObject({ decision: 'NOT_MATCHED', delivered: false, reason: expect.stringMatching(/^rule deleted: metadata_rule: .*action/) })
      expect(byRecipient.asleep).toMatchObject({ decision: 'INACTIVE', active: false, reason: expect.stringContaining('rule created would match') })
      expect(byRecipient.tagged).toMatchObject({ decision: 'RULE_ERROR', reason: expect.stringMatching(/rule by-tag could not be evaluated: .*array of 2/) })
      expect((await get('/api/v1/requests/no-such-request/decisions')).statusCode).toBe(404)
      expect((await get(`/api/v1/requests/${missionB[19]}/decisions`, 'ADMIN', 'project2')).statusCode).toBe(404)
    })

    it('takes over a job whose instance stopped committing batches 30 s ago, from where it was', async () => {
      // Three new failures, of a recipient of their own, and the job abandoned after the first one.
      const missionT = ['bulk-t-0', 'bulk-t-1', 'bulk-t-2']
      await client.rabbit.exchangeDeclare({ exchange: 'ext.flaky-t', type: 'direct', durable: true })
      expect((await f.call('POST', '/api/v1/recipients', { body: rabbitRecipient('flaky-t', { exchange: 'ext.flaky-t', maxAttempts: '1', parkAfterFailures: '1000' }) })).statusCode).toBe(201)
      const ruleT = { ...luceneRule('mission-t', 'action:CREATED', ['flaky-t']), parameters: [param('payload_rule', 'properties.mission:T')] }
      expect((await f.call('POST', '/api/v1/rules', { body: ruleT })).statusCode).toBe(201)
      for (const requestId of missionT) {
        await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload: { id: requestId, properties: { mission: 'T' } }, metadata: { action: 'CREATED' } } })
      }
      await waitFor(async () => (await states(missionT)).ERROR === 3, 'three more requests in ERROR', { timeoutMs: 30_000 })
      await client.rabbit.exchangeDelete({ exchange: 'ext.flaky-t' })
      const { rows } = await sql<{ id: number }>`insert into retry_job (tenant, filter, state, estimate, estimate_exact, up_to_id, after_id, requests, role, subject, runner, heartbeat_at)
        select ${TENANT}, '{"field":"properties.mission","value":"T"}', 'running', 3, true, max(id), min(id), 1, 'ADMIN', 'gone-operator', 'a-gone-instance', now() - interval '31 seconds'
        from notification_request where tenant = ${TENANT} and request_id = any(${missionT}::text[])
        returning id::int`.execute(f.herald.ctx.db)
      const job = await follow(rows[0].id)
      expect(job).toMatchObject({ state: 'done', done: 3, deliveries: 2, startedBy: 'gone-operator' })
      await waitFor(async () => (await states(missionT)).SUCCESS === 2, 'the two left retried', { timeoutMs: 20_000 })
      expect(await states(missionT)).toEqual({ ERROR: 1, SUCCESS: 2 })
      const audit = await sql<any>`select subject, outcome from audit_entry where target = ${`retry-jobs/${job.id}`}`.execute(f.herald.ctx.db)
      expect(audit.rows).toEqual([{ subject: 'gone-operator', outcome: 'ok' }])
    })

    // The CLI opens the database; PGlite's is held by the running Herald.
    it.runIf(backend === 'postgres')('does the same from the command line: the count, a job a running Herald takes, the decisions', async () => {
      const env = cliEnv(f.storage, f.vhost.url)
      const herald = (...args: string[]) => runHerald(args, { env, timeoutMs: 60_000 })
      const left = (await states(missionB)).ERROR
      expect(left).toBeGreaterThan(0)
      expect((await herald('requests', 'bulk-retry', 'estimate', '--tenant', TENANT, '--field', 'properties.mission', '--value', 'B')).stdout).toBe(`${left} requests (exact count)\n`)
      const refused = await herald('requests', 'bulk-retry', 'estimate', '--tenant', TENANT, '--field', 'properties.mission')
      expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining('HERALD_ERR_VALIDATION')])
      const started = await herald('requests', 'bulk-retry', 'start', '--tenant', TENANT, '--field', 'properties.mission', '--value', 'B', '--wait')
      expect(started.code).toBe(0)
      expect(started.stderr).toMatch(new RegExp(`bulk retry \\d+ done: ${left} of ${left} requests retried`))
      const listed = await herald('requests', 'bulk-retry', 'list', '--tenant', TENANT, '--json')
      expect(listed.stdout.trim().split('\n').map((l) => JSON.parse(l).state)).toEqual(['done', 'done', 'cancelled', 'done'])
      const decisions = JSON.parse((await herald('requests', 'decisions', '--tenant', TENANT, missionA[0])).stdout)
      expect(decisions.recipients.find((r: any) => r.recipient === 'other')).toMatchObject({ decision: 'NOT_MATCHED' })
    })
  })
}
