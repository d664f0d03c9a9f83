import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_TENANT as TENANT, startConsoleRig, type ConsoleRig } from './support/console-rig.ts'
import { association, pluginConf } from './support/herald.ts'
import { waitFor } from './support/wait-for.ts'

// Requests delivered to mission-a, requests whose delivery to mission-b fails (once: maxAttempts 1), and one
// delivered to mission-c, which requires an acknowledgement that never comes.
const DELIVERED = 3
const FAILING = 2
const RECEIVED = DELIVERED + FAILING + 1

describe('the console overview and completeness screens, with real traffic', () => {
  let rig: ConsoleRig
  const today = new Date().toISOString().slice(0, 10)

  beforeAll(async () => {
    rig = await startConsoleRig({
      configuration: [
        pluginConf('RabbitMQSender', 'mission-a', { exchange: 'ext.a', queueName: 'ext.a.queue', recipientLabel: 'mission-a' }),
        pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
        association('created', ['mission-a']),
        // An exchange that exists with another type: every delivery fails, and the recipient is not parked.
        pluginConf('RabbitMQSender', 'mission-b', { exchange: 'ext.broken', queueName: 'ext.b.queue', recipientLabel: 'mission-b', maxAttempts: 1, parkAfterFailures: 1000 }),
        pluginConf('LuceneRuleMatcher', 'nature-b', { payload_rule: 'properties.nature:B' }),
        association('nature-b', ['mission-b']),
        pluginConf('RabbitMQSender', 'mission-c', { exchange: 'ext.c', queueName: 'ext.c.queue', recipientLabel: 'mission-c', ackRequired: true }),
        pluginConf('LuceneRuleMatcher', 'nature-c', { payload_rule: 'properties.nature:C' }),
        association('nature-c', ['mission-c']),
      ],
    })
    const { client } = rig
    await client.listenToEvents()
    await client.rabbit.exchangeDeclare({ exchange: 'ext.broken', type: 'topic', durable: false })
    for (let i = 0; i < DELIVERED; i++) {
      await client.publishRequest({ tenant: TENANT, requestId: `ov-a-${i}`, owner: 'rs-fem', body: { payload: { id: `a-${i}` }, metadata: { action: 'CREATED' } } })
    }
    for (let i = 0; i < FAILING; i++) {
      await client.publishRequest({ tenant: TENANT, requestId: `ov-b-${i}`, owner: 'rs-fem', body: { payload: { id: `b-${i}`, properties: { nature: 'B' } }, metadata: { action: 'UPDATED' } } })
    }
    await client.publishRequest({ tenant: TENANT, requestId: 'ov-c-0', owner: 'rs-fem', body: { payload: { id: 'c-0', properties: { nature: 'C' } }, metadata: { action: 'UPDATED' } } })
    await waitFor(
      () => [...Array.from({ length: DELIVERED }, (_, i) => `ov-a-${i}`), 'ov-c-0'].every((id) => client.eventsFor(id).some((e) => e.body.state === 'SUCCESS')),
      'the requests to mission-a and mission-c to succeed',
      { timeoutMs: 30_000, wakeOn: client.onMessage },
    )
    const failed = async () =>
      (await sql<{ n: number }>`select count(*)::int as n from notification_request where tenant = ${TENANT} and state = 'ERROR'`.execute(rig.herald.ctx.db)).rows[0].n
    await waitFor(async () => (await failed()) === FAILING, 'the requests to mission-b to fail', { timeoutMs: 60_000 })
  }, 120_000)

  afterAll(() => rig?.close(), 30_000)

  it('shows per recipient the last hour and a 24 h sparkline, the intake rate and the dead letters', async () => {
    const { context, page } = await rig.signedIn('EXPLOIT', 'bob')
    const table = page.getByRole('table', { name: 'Recipients' })
    const a = table.getByRole('row').filter({ hasText: 'mission-a' })
    const b = table.getByRole('row').filter({ hasText: 'mission-b' })
    // Recipient, state, waiting, oldest waiting, in error, delivered and failed in the last hour, last 24 h.
    await expect.poll(() => a.getByRole('cell').allTextContents(), { timeout: 10_000 }).toEqual(['mission-amission-a · RabbitMQSender', 'active', '0', '—', '0', String(DELIVERED), '0', `${DELIVERED} delivered, 0 failed`])
    expect((await b.getByRole('cell').allTextContents()).slice(4, 8)).toEqual([String(FAILING), '0', String(FAILING), `0 delivered, ${FAILING} failed`])
    const chart = a.getByRole('img', { name: `Deliveries to mission-a per hour over the last 24 hours: ${DELIVERED} delivered, 0 failed; at most ${DELIVERED} delivered in one hour` })
    expect(await chart.locator('canvas').count()).toBe(1)
    expect(await chart.locator('canvas').evaluate((c: HTMLCanvasElement) => c.width > 0 && c.height > 0)).toBe(true)

    const intake = page.getByRole('group', { name: 'Intake' })
    await intake.getByText(`${RECEIVED} requests received in the last hour`).waitFor()
    expect(await intake.getByRole('img', { name: new RegExp(`^Requests received per minute over the last hour: ${RECEIVED} in all`) }).locator('canvas').count()).toBe(1)
    const deadLetters = page.getByRole('group', { name: 'Dead letters' }).getByRole('link', { name: '0 messages' })
    expect(await deadLetters.getAttribute('href')).toBe('/console/dead-letters')
    await rig.shot(page, 'overview')

    // Live: a new delivery shows without a reload (the page polls only every 10 s; the event stream is faster).
    await rig.client.publishRequest({ tenant: TENANT, requestId: 'ov-a-live', owner: 'rs-fem', body: { payload: { id: 'a-live' }, metadata: { action: 'CREATED' } } })
    await a.getByRole('cell', { name: `${DELIVERED + 1} delivered, 0 failed` }).waitFor({ timeout: 8_000 })
    await context.close()
  })

  it('shows the gap of a failing recipient; once it is fixed, "Retry these" completes the cell', async () => {
    const { context, page } = await rig.signedIn('EXPLOIT', 'bob')
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Completeness' }).click()
    const matrix = page.getByRole('table', { name: /Per recipient and UTC day of reception/ })
    const row = (recipient: string) => matrix.getByRole('row').filter({ has: page.getByRole('rowheader', { name: recipient }) })
    // A cell's link says "matched / delivered / acknowledged", then (to a screen reader only) whether it is complete.
    const cell = (counts: string, state: 'complete' | 'incomplete') => ({ name: new RegExp(`^${counts}\\W+${state}$`) })
    await row('mission-a').getByRole('link', cell(`${DELIVERED + 1} / ${DELIVERED + 1} / —`, 'complete')).waitFor()
    await row('mission-b').getByRole('link', cell(`${FAILING} / 0 / —`, 'incomplete')).click()
    await page.waitForURL(`${rig.origin}/console/completeness?recipient=mission-b&day=${today}`)
    const gap = page.getByRole('region', { name: `What mission-b misses on ${today}` })
    const listed = gap.getByRole('table', { name: /not delivered/ })
    await listed.getByRole('link', { name: 'ov-b-1' }).waitFor()
    expect((await listed.getByRole('link').allTextContents()).sort()).toEqual(Array.from({ length: FAILING }, (_, i) => `ov-b-${i}`))
    expect(await listed.getByRole('link', { name: 'ov-b-0' }).getAttribute('href')).toBe('/console/requests/ov-b-0')
    await rig.shot(page, 'completeness')

    // ADMIN fixes the recipient; EXPLOIT may retry.
    const admin = await rig.signedIn('ADMIN', 'alice')
    await admin.page.goto(`${rig.origin}/console/recipients/mission-b`)
    const exchange = admin.page.getByLabel(/exchange/i).first()
    await exchange.waitFor()
    await exchange.fill('ext.fixed')
    await admin.page.getByRole('button', { name: 'Save' }).click()
    await admin.page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
    await admin.context.close()

    await gap.getByRole('button', { name: `Retry these (${FAILING})` }).click()
    await gap.getByRole('status').filter({ hasText: `Retried ${FAILING} requests (${FAILING} deliveries put back to PENDING).` }).waitFor()
    await row('mission-b').getByRole('link', cell(`${FAILING} / ${FAILING} / —`, 'complete')).waitFor({ timeout: 20_000 })
    await gap.getByText('Nothing: every product matched for mission-b that day was delivered.').waitFor()
    await context.close()
  })

  it('shows a delivery still waiting for its acknowledgement as a gap with nothing to retry', async () => {
    const { context, page } = await rig.signedIn('EXPLOIT', 'bob')
    await page.goto(`${rig.origin}/console/completeness`)
    const matrix = page.getByRole('table', { name: /Per recipient and UTC day of reception/ })
    await matrix
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: 'mission-c' }) })
      .getByRole('link', { name: /^1 \/ 1 \/ 0\W+incomplete$/ })
      .click()
    const gap = page.getByRole('region', { name: `What mission-c misses on ${today}` })
    const row = gap.getByRole('table', { name: /not delivered or not acknowledged/ }).getByRole('row').filter({ hasText: 'ov-c-0' })
    await row.getByText('not acknowledged').waitFor()
    await row.getByText('completed').waitFor()
    expect(await gap.getByRole('button', { name: 'Retry these (0)' }).isDisabled()).toBe(true)
    await context.close()
  })

  it('shows the API’s explanation for a day that does not exist and for an unknown recipient', async () => {
    const { context, page } = await rig.signedIn('EXPLOIT', 'bob')
    await page.goto(`${rig.origin}/console/completeness?recipient=mission-b&day=2026-02-30`)
    await page.getByRole('alert').filter({ hasText: 'HERALD_ERR_VALIDATION' }).filter({ hasText: /2026-02-30/ }).waitFor()
    await page.goto(`${rig.origin}/console/completeness?recipient=nobody&day=${today}`)
    await page.getByRole('alert').filter({ hasText: 'HERALD_ERR_NOT_FOUND' }).waitFor()
    // The matrix still shows above the problem.
    await page.getByRole('table', { name: /Per recipient and UTC day of reception/ }).waitFor()
    await context.close()
  })

  it('loaded nothing from outside Herald and broke no rule of its content security policy', () => {
    expect(rig.outside).toEqual([])
    expect(rig.refused).toEqual([])
  })
})
