import fs from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSignInCode } from '../src/console-sessions/sign-in-code.ts'
import { loadTokenKeys, signToken } from '../src/http/auth.ts'
import { CONSOLE_DIR } from '../src/http/console.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { freePort, launchBrowser, SCREENSHOT_DIR } from './support/browser.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/sender-rig.ts'

const TENANT = 'project1'

describe('the web console in a real browser', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let storage: TestStorage
  let herald: Herald
  let client: RegardsClient
  let browser: Browser
  let origin: string
  let secret: Buffer
  /** Every URL any page of the test asked for that is not Herald's own origin. */
  const outside: string[] = []
  const requestIds: string[] = []

  beforeAll(async () => {
    if (!fs.existsSync(path.join(CONSOLE_DIR, 'index.html'))) throw new Error('the console is not built: npm run build:console')
    vhost = await createVhost()
    storage = await createTestStorage('postgres')
    const port = await freePort()
    origin = `http://127.0.0.1:${port}`
    herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['notifier', 'http'], env: { HERALD_HTTP_PORT: String(port) } })
    secret = loadTokenKeys(herald.ctx.config).hs256
    await importConfig(herald, TENANT, [
      pluginConf('RabbitMQSender', 'mission-a', { exchange: 'ext.a', queueName: 'ext.a.queue', recipientLabel: 'mission-a' }),
      pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
      association('created', ['mission-a']),
    ])
    client = new RegardsClient(vhost.url)
    await client.listenToEvents()
    for (let i = 0; i < 3; i++) {
      const requestId = `console-req-${i}`
      requestIds.push(requestId)
      // A hostile string in the payload must show as text, never as markup.
      const payload = { id: `product-${i}`, properties: { title: `<img src=x onerror="document.title='pwned'">${'long '.repeat(200)}` } }
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload, metadata: { action: 'CREATED' } } })
    }
    await waitFor(() => requestIds.every((id) => client.eventsFor(id).some((e) => e.body.state === 'SUCCESS')), 'the requests to succeed', 30_000)
    browser = await launchBrowser()
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true })
    console.log(`console screenshots: ${SCREENSHOT_DIR}`)
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    await client?.close()
    await herald?.stop()
    await storage?.drop()
    await vhost?.drop()
  }, 30_000)

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    page.on('request', (r) => {
      if (!r.url().startsWith(`${origin}/`)) outside.push(r.url())
    })
    return { context, page }
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true })
  const link = (role: 'ADMIN' | 'EXPLOIT' = 'ADMIN') => `${origin}/console/sign-in#code=${createSignInCode(secret, { tenant: TENANT, role, subject: 'alice' })}`

  it('signs in by link, shows the recipients and the requests, and takes the code out of the address bar', async () => {
    const { context, page } = await newPage()
    await page.goto(link())
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(page.url()).toBe(`${origin}/console/`)
    await page.getByRole('cell', { name: /mission-a/ }).first().waitFor()
    await shot(page, 'overview')

    await page.getByRole('link', { name: 'Requests' }).click()
    await page.getByRole('link', { name: 'console-req-2' }).waitFor()
    for (const id of requestIds) await expect(page.getByRole('link', { name: id }).count()).resolves.toBe(1)
    await shot(page, 'requests')

    await page.getByLabel('State').selectOption('SUCCESS')
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.waitForURL(/state=SUCCESS/)
    await page.getByRole('link', { name: 'console-req-0' }).waitFor()

    await page.getByRole('link', { name: 'console-req-1' }).click()
    await page.getByRole('heading', { name: /Request console-req-1/ }).waitFor()
    const payload = await page.getByLabel('Payload').textContent()
    expect(payload).toContain('<img src=x onerror=')
    expect(await page.title()).not.toBe('pwned')
    expect(await page.locator('img').count()).toBe(0)
    await shot(page, 'request')

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    await context.close()
  })

  it('refuses a link used twice', async () => {
    const once = link()
    const first = await newPage()
    await first.page.goto(once)
    await first.page.getByRole('heading', { name: 'Overview' }).waitFor()
    const second = await newPage()
    await second.page.goto(once)
    await second.page.getByRole('alert').filter({ hasText: /already used/ }).waitFor()
    await first.context.close()
    await second.context.close()
  })

  it('opens a deep link after signing in with a pasted token, and shows EXPLOIT no delete', async () => {
    const { context, page } = await newPage()
    await page.goto(`${origin}/console/requests/console-req-0`)
    await page.getByLabel('Bearer token').fill(signToken(secret, { tenant: TENANT, role: 'EXPLOIT', sub: 'bob' }, 3600))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: /Request console-req-0/ }).waitFor()
    expect(page.url()).toBe(`${origin}/console/requests/console-req-0`)
    await page.getByRole('button', { name: 'Retry' }).waitFor()
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0)
    await context.close()
  })

  it('shows the API refusal of a token of another Herald', async () => {
    const { context, page } = await newPage()
    await page.goto(`${origin}/console/`)
    await page.getByLabel('Bearer token').fill(signToken(Buffer.from('another-herald-secret-of-32-bytes!!'), { tenant: TENANT, role: 'ADMIN' }, 3600))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: /invalid/ }).waitFor()
    await shot(page, 'sign-in')
    await context.close()
  })

  it('made no request outside Herald’s origin', () => {
    expect(outside).toEqual([])
  })
})
