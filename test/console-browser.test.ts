import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../src/http/auth.ts'
import { CatalogClient } from './support/catalog-client.ts'
import { CONSOLE_TENANT as TENANT, startConsoleRig, type ConsoleRig } from './support/console-rig.ts'
import { association, pluginConf } from './support/herald.ts'
import { waitFor } from './support/wait-for.ts'


describe('the web console in a real browser', () => {
  let rig: ConsoleRig
  let catalog: CatalogClient
  let productUrn: string
  const requestIds: string[] = []

  beforeAll(async () => {
    rig = await startConsoleRig({
      roles: ['notifier', 'catalog'],
      configuration: [
        pluginConf('RabbitMQSender', 'mission-a', { exchange: 'ext.a', queueName: 'ext.a.queue', recipientLabel: 'mission-a', ackRequired: true }),
        pluginConf('LuceneRuleMatcher', 'created', { metadata_rule: 'action:CREATED' }),
        association('created', ['mission-a']),
        // Sent to an exchange that exists with another type: every delivery fails, and once is enough (maxAttempts 1).
        pluginConf('RabbitMQSender', 'mission-b', { exchange: 'ext.broken', queueName: 'ext.b.queue', recipientLabel: 'mission-b', maxAttempts: 1 }),
        pluginConf('LuceneRuleMatcher', 'nature-b', { payload_rule: 'properties.nature:B' }),
        association('nature-b', ['mission-b']),
      ],
    })
    const { client } = rig
    await client.listenToEvents()
    await client.rabbit.exchangeDeclare({ exchange: 'ext.broken', type: 'topic', durable: false })
    for (let i = 0; i < 3; i++) {
      const requestId = `console-req-${i}`
      requestIds.push(requestId)
      // A hostile string in the payload must show as text, never as markup.
      const payload = { id: `product-${i}`, properties: { title: `<img src=x onerror="document.title='pwned'">${'long '.repeat(200)}` } }
      await client.publishRequest({ tenant: TENANT, requestId, owner: 'rs-fem', body: { payload, metadata: { action: 'CREATED' } } })
    }
    await waitFor(() => requestIds.every((id) => client.eventsFor(id).some((e) => e.body.state === 'SUCCESS')), 'the requests to succeed', { timeoutMs: 30_000, wakeOn: client.onMessage })
    // A catalog product sent to mission-a and acknowledged by it, and one acknowledgement that is not one.
    catalog = new CatalogClient(rig.vhostUrl)
    await catalog.listenResponses()
    await catalog.create(TENANT, 'feature-1', { type: 'Feature', id: 'passport-product', properties: { level: 'L1' } })
    await waitFor(() => catalog.responsesFor('feature-1').some((r) => r.type === 'NOTIFICATION'), 'the product to be notified', { timeoutMs: 30_000, wakeOn: catalog.onMessage })
    productUrn = catalog.responsesFor('feature-1').find((r) => r.urn)!.urn
    await catalog.ack(TENANT, productUrn, 'mission-a')
    await catalog.ack(TENANT, productUrn, 'mission-a', { rawBody: Buffer.from('{"urn": 42') })
  }, 90_000)

  afterAll(async () => {
    await catalog?.close()
    await rig?.close()
  }, 30_000)

  it('signs in by link, shows the recipients and the requests, and takes the code out of the address bar', async () => {
    const { context, page } = await rig.newPage()
    await page.goto(rig.signInLink())
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(page.url()).toBe(`${rig.origin}/console/`)
    await page.getByRole('cell', { name: /mission-a/ }).first().waitFor()

    await page.getByRole('link', { name: 'Requests' }).click()
    await page.getByRole('link', { name: 'console-req-2' }).waitFor()
    for (const id of requestIds) await expect(page.getByRole('link', { name: id }).count()).resolves.toBe(1)
    await rig.shot(page, 'requests')

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
    await rig.shot(page, 'request')

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    await context.close()
  })

  it('shows a new request on the requests page without a reload (the event stream; the page polls only every 30 s)', async () => {
    const { context, page } = await rig.signedIn()
    await page.goto(`${rig.origin}/console/requests`)
    await page.getByRole('link', { name: 'console-req-0' }).waitFor()
    await rig.client.publishRequest({ tenant: TENANT, requestId: 'console-live-1', owner: 'rs-fem', body: { payload: { id: 'live' }, metadata: { action: 'CREATED' } } })
    await page.getByRole('link', { name: 'console-live-1' }).waitFor({ timeout: 10_000 })
    await context.close()
  })

  it('parks a recipient: a new request waits for it; resuming delivers it, live', async () => {
    const { context, page } = await rig.newPage()
    await page.goto(rig.signInLink())
    await page.getByRole('link', { name: 'mission-a' }).first().click()
    await page.getByRole('heading', { name: /Recipient mission-a/ }).waitFor()
    await page.getByRole('button', { name: 'Park' }).click()
    await page.getByRole('button', { name: 'Resume' }).waitFor()
    await rig.shot(page, 'recipient')
    await rig.client.publishRequest({ tenant: TENANT, requestId: 'console-parked-1', owner: 'rs-fem', body: { payload: { id: 'parked' }, metadata: { action: 'CREATED' } } })
    await page.goto(`${rig.origin}/console/requests/console-parked-1`)
    const delivery = page.getByRole('article', { name: 'Delivery to mission-a' })
    await delivery.getByText('PENDING').waitFor({ timeout: 15_000 })
    await page.goto(`${rig.origin}/console/recipients/mission-a`)
    await page.getByRole('button', { name: 'Resume' }).click()
    await page.getByRole('button', { name: 'Park' }).waitFor()
    await page.goto(`${rig.origin}/console/requests/console-parked-1`)
    await page.getByRole('heading', { name: /Request console-parked-1/ }).waitFor()
    await page.getByText('SUCCESS').first().waitFor({ timeout: 15_000 })
    await context.close()
  })

  it('shows a failed delivery with its attempt; after the recipient is fixed in its form, a retry delivers it', async () => {
    await rig.client.publishRequest({ tenant: TENANT, requestId: 'console-fix-1', owner: 'rs-fem', body: { payload: { id: 'fix', properties: { nature: 'B' } }, metadata: { action: 'UPDATED' } } })
    const { context, page } = await rig.signedIn()
    await page.goto(`${rig.origin}/console/requests/console-fix-1`)
    const delivery = page.getByRole('article', { name: 'Delivery to mission-b' })
    await delivery.locator('header .badge', { hasText: 'ERROR' }).waitFor({ timeout: 20_000 })
    await delivery.getByRole('table', { name: 'Attempts to mission-b' }).getByRole('row').nth(1).waitFor()
    await rig.shot(page, 'request-failed')

    await page.goto(`${rig.origin}/console/recipients/mission-b`)
    const exchange = page.getByLabel(/exchange/i).first()
    await exchange.waitFor()
    expect(await exchange.inputValue()).toBe('ext.broken')
    await exchange.fill('ext.fixed')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()

    await page.goto(`${rig.origin}/console/requests/console-fix-1`)
    await page.getByRole('button', { name: 'Retry mission-b' }).click()
    await page.getByRole('heading', { name: /Request console-fix-1/ }).waitFor()
    await page.getByText('SUCCESS').first().waitFor({ timeout: 20_000 })
    await context.close()
  })

  it('refuses a link used twice', async () => {
    const once = rig.signInLink()
    const first = await rig.newPage()
    await first.page.goto(once)
    await first.page.getByRole('heading', { name: 'Overview' }).waitFor()
    const second = await rig.newPage()
    await second.page.goto(once)
    await second.page.getByRole('alert').filter({ hasText: /already used/ }).waitFor()
    await first.context.close()
    await second.context.close()
  })

  it('opens a deep link after signing in with a pasted token, and shows EXPLOIT no delete', async () => {
    const { context, page } = await rig.newPage()
    await page.goto(`${rig.origin}/console/requests/console-req-0`)
    await page.getByLabel('Bearer token').fill(signToken(rig.secret, { tenant: TENANT, role: 'EXPLOIT', sub: 'bob' }, 3600))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: /Request console-req-0/ }).waitFor()
    expect(page.url()).toBe(`${rig.origin}/console/requests/console-req-0`)
    await page.getByRole('button', { name: 'Retry' }).waitFor()
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0)
    await context.close()
  })

  it('shows the API refusal of a token of another Herald', async () => {
    const { context, page } = await rig.newPage()
    await page.goto(`${rig.origin}/console/`)
    await page.getByLabel('Bearer token').fill(signToken(Buffer.from('another-herald-secret-of-32-bytes!!'), { tenant: TENANT, role: 'ADMIN' }, 3600))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: /invalid/ }).waitFor()
    await rig.shot(page, 'sign-in')
    await context.close()
  })

  it('dry-runs a rule against a pasted product: a match, and the clause that fails', async () => {
    const { context, page } = await rig.signedIn()
    await page.getByRole('link', { name: 'Rules' }).click()
    await page.getByRole('link', { name: 'created' }).click()
    await page.getByRole('heading', { name: /Rule created/ }).waitFor()
    await page.getByRole('button', { name: 'Dry run' }).click()
    await page.getByRole('status').filter({ hasText: /Matches: this product would be sent to mission-a/ }).waitFor()
    await page.getByLabel(/Product to test/).fill(JSON.stringify({ metadata: { action: 'DELETED' }, payload: {} }))
    await page.getByRole('button', { name: 'Dry run' }).click()
    await page.getByRole('status').filter({ hasText: /Does not match: .*action/ }).waitFor()
    await rig.shot(page, 'rule')
    await context.close()
  })

  it('shows the product passport: the recipient, its acknowledgement and the requests about the product', async () => {
    const { context, page } = await rig.signedIn('EXPLOIT')
    await page.getByRole('link', { name: 'Products' }).click()
    await page.getByRole('link', { name: 'passport-product' }).click()
    await page.getByRole('heading', { name: /Product passport-product/ }).waitFor()
    const row = page.getByRole('row').filter({ hasText: 'mission-a' })
    await row.filter({ hasText: 'DONE' }).waitFor()
    expect(await row.locator('time').count()).toBe(2)
    await page.getByRole('cell', { name: 'feature-1' }).first().waitFor()
    expect(page.url()).toBe(`${rig.origin}/console/products/${encodeURIComponent(productUrn)}`)
    await rig.shot(page, 'product')
    await context.close()
  })

  it('lists a dead-lettered message, shows its body, and discards it', async () => {
    const { context, page } = await rig.signedIn()
    await page.getByRole('link', { name: 'Dead letters' }).click()
    const entry = page.getByRole('row').filter({ hasText: /invalid DisseminationAckEvent/ })
    await entry.waitFor({ timeout: 20_000 })
    await entry.getByRole('link').click()
    await page.getByLabel('Body').filter({ hasText: '{"urn": 42' }).waitFor()
    await rig.shot(page, 'dead-letter')
    page.once('dialog', (d) => d.accept())
    await page.getByRole('button', { name: 'Discard' }).click()
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor()
    await page.getByText(/No dead letter/).waitFor()
    await context.close()
  })

  it('made no request outside Herald’s origin, and broke no rule of its content security policy', () => {
    expect(rig.outside).toEqual([])
    expect(rig.refused).toEqual([])
  })
})
