import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_TENANT as TENANT, startConsoleRig, type ConsoleRig } from './support/console-rig.ts'
import { association, pluginConf } from './support/herald.ts'
import { waitFor } from './support/wait-for.ts'

// Failing requests of mission-b (fixed, then bulk-retried) and of mission-c (a long job, cancelled half-way).
const FAILING_B = 6
const FAILING_C = 40

describe('the console acts on what it shows: bulk retry by filter, the rule decision per recipient, the audit trail', () => {
  let rig: ConsoleRig

  const liveStates = async (owner: string) => {
    const { rows } = await sql<{ state: string; n: number }>`select state, count(*)::int as n from notification_request
      where tenant = ${TENANT} and request_owner = ${owner} group by state`.execute(rig.herald.ctx.db)
    const done = await sql<{ n: number }>`select count(*)::int as n from request_history where tenant = ${TENANT} and request_owner = ${owner}`.execute(rig.herald.ctx.db)
    return { ERROR: 0, ...Object.fromEntries(rows.map((r) => [r.state, r.n])), SUCCESS: done.rows[0].n } as Record<string, number>
  }

  beforeAll(async () => {
    // One request per bulk-retry transaction: the 40-request job lasts a few seconds, long enough to cancel.
    rig = await startConsoleRig({
      env: { HERALD_RETRY_JOB_BATCH_SIZE: '1' },
      configuration: [
        pluginConf('RabbitMQSender', 'mission-a', { exchange: 'ext.a', queueName: 'ext.a.queue', recipientLabel: 'mission-a' }),
        pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
        association('created', ['mission-a']),
        // Exchanges that exist with another type: every delivery fails, once is enough (maxAttempts 1), and the
        // recipient is not parked (its deliveries would wait instead of failing).
        pluginConf('RabbitMQSender', 'mission-b', { exchange: 'ext.broken-b', queueName: 'ext.b.queue', recipientLabel: 'mission-b', maxAttempts: 1, parkAfterFailures: 1000 }),
        pluginConf('LuceneRuleMatcher', 'nature-b', { payload_rule: 'properties.nature:B' }),
        association('nature-b', ['mission-b']),
        pluginConf('RabbitMQSender', 'mission-c', { exchange: 'ext.broken-c', queueName: 'ext.c.queue', recipientLabel: 'mission-c', maxAttempts: 1, parkAfterFailures: 1000 }),
        pluginConf('LuceneRuleMatcher', 'nature-c', { payload_rule: 'properties.nature:C' }),
        association('nature-c', ['mission-c']),
      ],
    })
    const { client } = rig
    await client.listenToEvents()
    for (const exchange of ['ext.broken-b', 'ext.broken-c']) await client.rabbit.exchangeDeclare({ exchange, type: 'topic', durable: false })
    for (let i = 0; i < FAILING_B; i++) {
      const payload = { id: `b-${i}`, properties: { nature: 'B', title: `<script>document.title='pwned'</script>` } }
      await client.publishRequest({ tenant: TENANT, requestId: `bulk-b-${i}`, owner: 'owner-b', body: { payload, metadata: { action: 'UPDATED' } } })
    }
    for (let i = 0; i < FAILING_C; i++) {
      await client.publishRequest({ tenant: TENANT, requestId: `bulk-c-${i}`, owner: 'owner-c', body: { payload: { id: `c-${i}`, properties: { nature: 'C' } }, metadata: { action: 'UPDATED' } } })
    }
    await waitFor(async () => (await liveStates('owner-b')).ERROR === FAILING_B && (await liveStates('owner-c')).ERROR === FAILING_C, 'the requests to fail', { timeoutMs: 60_000 })
  }, 120_000)

  afterAll(() => rig?.close(), 30_000)

  it('bulk-retries what a filter selects after the failing recipient is fixed: the count first, then progress to done, and the requests succeed', async () => {
    const { context, page } = await rig.signedIn('ADMIN', 'alice')
    await page.goto(`${rig.origin}/console/recipients/mission-b`)
    const exchange = page.getByLabel(/exchange/i).first()
    await exchange.waitFor()
    await exchange.fill('ext.fixed-b')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()

    await page.goto(`${rig.origin}/console/requests?state=ERROR&recipient=mission-b`)
    await page.getByRole('link', { name: 'bulk-b-0' }).waitFor()
    await page.getByRole('button', { name: 'Retry everything this filter selects…' }).click()
    const confirmation = page.getByRole('group', { name: 'Bulk retry confirmation' })
    await confirmation.getByText(`${FAILING_B} requests`).waitFor()
    expect(await confirmation.textContent()).toContain('exact count')
    expect(await confirmation.textContent()).toContain('state = ERROR, recipient = mission-b')
    await confirmation.getByRole('button', { name: 'Start the retry' }).click()
    const status = page.getByRole('status').filter({ hasText: /Bulk retry \d+ done/ })
    await status.waitFor({ timeout: 20_000 })
    expect(await status.textContent()).toContain(`${FAILING_B} of ${FAILING_B} requests retried`)
    await waitFor(async () => (await liveStates('owner-b')).SUCCESS === FAILING_B, 'the retried requests to succeed', { timeoutMs: 20_000 })
    // The listing follows live: nothing left in ERROR for mission-b.
    await page.getByText('No request matches these filters.').waitFor({ timeout: 10_000 })
    await rig.shot(page, 'bulk-retry')
    expect(await page.title()).not.toBe('pwned')
    await context.close()
  })

  it('EXPLOIT cancels a long bulk retry half-way: the rest stays as it was; it sees no admin action', async () => {
    await rig.client.rabbit.exchangeDelete({ exchange: 'ext.broken-c' })
    // Phone width: the controls stay reachable.
    const { context, page } = await rig.signedIn('EXPLOIT', 'bob', { width: 390, height: 844 })
    await page.goto(`${rig.origin}/console/requests?owner=owner-c`)
    await page.getByRole('button', { name: 'Retry everything this filter selects…' }).click()
    await page.getByRole('group', { name: 'Bulk retry confirmation' }).getByText(`${FAILING_C} requests`).waitFor()
    await page.getByRole('button', { name: 'Start the retry' }).click()
    await page.getByRole('status').filter({ hasText: /Bulk retry \d+ running: [1-9]\d* of 40/ }).waitFor({ timeout: 20_000 })
    await page.getByRole('button', { name: 'Cancel the retry' }).click()
    const status = page.getByRole('status').filter({ hasText: /cancelled by console:bob/ })
    await status.waitFor({ timeout: 10_000 })
    const retried = Number(/: (\d+) of 40/.exec((await status.textContent()) ?? '')?.[1])
    expect(retried).toBeGreaterThan(0)
    expect(retried).toBeLessThan(FAILING_C)
    await waitFor(async () => (await liveStates('owner-c')).SUCCESS === retried, 'the retried part to succeed', { timeoutMs: 20_000 })
    await new Promise((r) => setTimeout(r, 1500))
    expect(await liveStates('owner-c')).toEqual({ ERROR: FAILING_C - retried, SUCCESS: retried })

    await page.goto(`${rig.origin}/console/requests/bulk-c-39`)
    await page.getByRole('heading', { name: /Request bulk-c-39/ }).waitFor()
    await page.getByRole('button', { name: 'Retry', exact: true }).waitFor()
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0)
    await page.goto(`${rig.origin}/console/recipients/mission-c`)
    await page.getByRole('heading', { name: /Recipient mission-c/ }).waitFor()
    for (const name of ['Save', 'Park', 'Deactivate', 'Delete']) expect(await page.getByRole('button', { name }).count()).toBe(0)
    await context.close()
  })

  it('explains, per recipient, why a stored request was not sent to it: the clause that fails', async () => {
    const { context, page } = await rig.signedIn('EXPLOIT', 'bob')
    await page.goto(`${rig.origin}/console/requests/bulk-b-0`)
    const decisions = page.getByRole('table', { name: /Per recipient, the rules in force/ })
    const missionA = decisions.getByRole('row').filter({ hasText: 'mission-a' })
    await missionA.getByText('NOT_MATCHED').waitFor()
    expect(await missionA.textContent()).toMatch(/rule created: metadata_rule: .*action/)
    await decisions.getByRole('row').filter({ hasText: 'mission-b' }).getByText('MATCHED', { exact: true }).waitFor()
    await decisions.getByRole('row').filter({ hasText: 'mission-c' }).getByText(/properties\.nature/).waitFor()
    await rig.shot(page, 'request-explained')
    await context.close()
  })

  it('made no request outside Herald’s origin, and broke no rule of its content security policy', () => {
    expect(rig.outside).toEqual([])
    expect(rig.refused).toEqual([])
  })
})
