import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_TENANT as TENANT, startConsoleRig, type ConsoleRig } from './support/console-rig.ts'
import { association, pluginConf } from './support/herald.ts'
import { waitFor } from './support/wait-for.ts'

const REQUEST_ID = 'audit-req-1'

describe('the console audit screen shows what was done in the console', () => {
  let rig: ConsoleRig

  beforeAll(async () => {
    rig = await startConsoleRig({
      configuration: [
        // An exchange that exists with another type: the delivery fails, once is enough (maxAttempts 1).
        pluginConf('RabbitMQSender', 'mission-x', { exchange: 'ext.broken-x', queueName: 'ext.x.queue', recipientLabel: 'mission-x', maxAttempts: 1, parkAfterFailures: 1000 }),
        pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
        association('created', ['mission-x']),
      ],
    })
    await rig.client.rabbit.exchangeDeclare({ exchange: 'ext.broken-x', type: 'topic', durable: false })
    await rig.client.publishRequest({ tenant: TENANT, requestId: REQUEST_ID, owner: 'rs-fem', body: { payload: { id: 'p-1' }, metadata: { action: 'CREATED' } } })
    await waitFor(
      async () => (await sql<{ state: string }>`select state from notification_request where tenant = ${TENANT} and request_id = ${REQUEST_ID}`.execute(rig.herald.ctx.db)).rows[0]?.state === 'ERROR',
      'the request to fail',
      { timeoutMs: 60_000 },
    )
  }, 120_000)

  afterAll(() => rig?.close(), 30_000)

  it('a retry in the console shows on the audit screen, newest first, with who, role, action, target, time and outcome; filters deep-link', async () => {
    const { context, page } = await rig.signedIn('ADMIN', 'alice')
    await page.goto(`${rig.origin}/console/requests/${REQUEST_ID}`)
    await page.getByRole('button', { name: 'Retry', exact: true }).click()
    await waitFor(
      async () => (await sql<{ n: number }>`select count(*)::int as n from audit_entry where tenant = ${TENANT} and action = 'requests.retry'`.execute(rig.herald.ctx.db)).rows[0].n === 1,
      'the retry to be audited',
      { timeoutMs: 10_000 },
    )

    await page.getByRole('link', { name: 'Audit' }).click()
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor()
    const table = page.getByRole('table', { name: /newest first/ })
    await table.waitFor()
    const row = table.getByRole('row').nth(1)
    const cells = await row.getByRole('cell').allTextContents()
    expect(cells.slice(1, 6)).toEqual(['console:alice', 'ADMIN', 'requests.retry', REQUEST_ID, 'ok'])
    // The time in UTC, the local time on hover.
    const time = row.locator('time')
    expect(await time.textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/)
    expect(Math.abs(Date.parse((await time.getAttribute('datetime'))!) - Date.now())).toBeLessThan(120_000)
    expect(await time.getAttribute('title')).toBeTruthy()
    await rig.shot(page, 'audit')

    // Filters go to the URL, and the URL opens the same view.
    await page.getByLabel('Action (requests.retry)').fill('requests.delete')
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.waitForURL(/\/console\/audit\?action=requests\.delete$/)
    await page.getByText('No audit entry matches these filters.').waitFor()
    await page.goto(`${rig.origin}/console/audit?action=requests.retry&subject=console%3Aalice`)
    expect(await page.getByLabel('Who (subject)').inputValue()).toBe('console:alice')
    await page.getByRole('table', { name: /newest first/ }).getByRole('cell', { name: REQUEST_ID }).waitFor()
    // A bad filter gets the API's explanation.
    await page.goto(`${rig.origin}/console/audit?outcome=fine`)
    await page.getByRole('alert').filter({ hasText: 'HERALD_ERR_VALIDATION' }).waitFor()
    await context.close()
  })

  it('EXPLOIT has no audit screen: no link, and the page says it is for ADMIN', async () => {
    const { context, page } = await rig.signedIn('EXPLOIT', 'bob')
    expect(await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Audit' }).count()).toBe(0)
    await page.goto(`${rig.origin}/console/audit`)
    await page.getByText('The audit trail is for ADMIN').waitFor()
    await context.close()
    expect(rig.outside).toEqual([])
  })
})
