import fs from 'node:fs'
import path from 'node:path'
import { sql } from 'kysely'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSignInCode } from '../src/console-sessions/sign-in-code.ts'
import { loadTokenKeys } from '../src/http/auth.ts'
import { CONSOLE_DIR } from '../src/http/console.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { launchBrowser, SCREENSHOT_DIR } from './support/browser.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, freePort, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'project1'
const REQUEST_ID = 'audit-req-1'

describe('the console audit screen shows what was done in the console', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  let browser: Browser
  let origin: string
  let secret: Buffer
  const outside: string[] = []

  beforeAll(async () => {
    if (!fs.existsSync(path.join(CONSOLE_DIR, 'index.html'))) throw new Error('the console is not built: npm run build:console')
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    const port = await freePort()
    origin = `http://127.0.0.1:${port}`
    herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['notifier', 'http'], env: { HERALD_HTTP_PORT: String(port) } })
    secret = loadTokenKeys(herald.ctx.config).hs256
    await importConfig(herald, TENANT, [
      // An exchange that exists with another type: the delivery fails, once is enough (maxAttempts 1).
      pluginConf('RabbitMQSender', 'mission-x', { exchange: 'ext.broken-x', queueName: 'ext.x.queue', recipientLabel: 'mission-x', maxAttempts: 1, parkAfterFailures: 1000 }),
      pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
      association('created', ['mission-x']),
    ])
    client = new RegardsClient(vhost.url)
    await client.rabbit.exchangeDeclare({ exchange: 'ext.broken-x', type: 'topic', durable: false })
    await client.publishRequest({ tenant: TENANT, requestId: REQUEST_ID, owner: 'rs-fem', body: { payload: { id: 'p-1' }, metadata: { action: 'CREATED' } } })
    await waitFor(
      async () => (await sql<{ state: string }>`select state from notification_request where tenant = ${TENANT} and request_id = ${REQUEST_ID}`.execute(herald.ctx.db)).rows[0]?.state === 'ERROR',
      'the request to fail',
      { timeoutMs: 60_000 },
    )
    browser = await launchBrowser()
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true })
    console.log(`console screenshots: ${SCREENSHOT_DIR}`)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  }, 30_000)

  async function signedIn(role: 'ADMIN' | 'EXPLOIT', subject: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    page.on('request', (r) => {
      if (!r.url().startsWith(`${origin}/`)) outside.push(r.url())
    })
    await page.goto(`${origin}/console/sign-in#code=${createSignInCode(secret, { tenant: TENANT, role, subject })}`)
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    return { context, page }
  }

  it('a retry in the console shows on the audit screen, newest first, with who, role, action, target, time and outcome; filters deep-link', async () => {
    const { context, page } = await signedIn('ADMIN', 'alice')
    await page.goto(`${origin}/console/requests/${REQUEST_ID}`)
    await page.getByRole('button', { name: 'Retry', exact: true }).click()
    await waitFor(
      async () => (await sql<{ n: number }>`select count(*)::int as n from audit_entry where tenant = ${TENANT} and action = 'requests.retry'`.execute(herald.ctx.db)).rows[0].n === 1,
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
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'audit.png'), fullPage: true })

    // Filters go to the URL, and the URL opens the same view.
    await page.getByLabel('Action (requests.retry)').fill('requests.delete')
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.waitForURL(/\/console\/audit\?action=requests\.delete$/)
    await page.getByText('No audit entry matches these filters.').waitFor()
    await page.goto(`${origin}/console/audit?action=requests.retry&subject=console%3Aalice`)
    expect(await page.getByLabel('Who (subject)').inputValue()).toBe('console:alice')
    await page.getByRole('table', { name: /newest first/ }).getByRole('cell', { name: REQUEST_ID }).waitFor()
    // A bad filter gets the API's explanation.
    await page.goto(`${origin}/console/audit?outcome=fine`)
    await page.getByRole('alert').filter({ hasText: 'HERALD_ERR_VALIDATION' }).waitFor()
    await context.close()
  })

  it('EXPLOIT has no audit screen: no link, and the page says it is for ADMIN', async () => {
    const { context, page } = await signedIn('EXPLOIT', 'bob')
    expect(await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Audit' }).count()).toBe(0)
    await page.goto(`${origin}/console/audit`)
    await page.getByText('The audit trail is for ADMIN').waitFor()
    await context.close()
    expect(outside).toEqual([])
  })
})
