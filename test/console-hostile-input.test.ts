import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../src/http/auth.ts'
import { CONSOLE_TENANT as TENANT, startConsoleRig, type ConsoleRig } from './support/console-rig.ts'
import { waitFor } from './support/wait-for.ts'

const REQUEST_ID = 'hostile-req-1'
// Each handler, if it ever ran, would count itself in window.__pwned and open a dialog.
const fire = (n: number) => `window.__pwned=(window.__pwned||0)+1;alert(${n})`
const HOSTILE_OWNER = `<img src=x onerror=${fire(1)}>`
const LONG = `${'0123456789'.repeat(10_000)}<b>end of the long value</b>`
const PAYLOAD = {
  id: 'hostile-product',
  properties: {
    img: `<img src=x onerror=${fire(2)}>`,
    script: `<script>${fire(3)}</script>`,
    svg: `<svg onload=${fire(4)}></svg>`,
    link: `<a href=javascript:${fire(5)}>click</a>`,
    long: LONG,
  },
}

/**
 * Hostile strings and a 100 kB value in what a producer sends (payload, owner) reach the console's requests
 * page and request page as text: no element is made from them, no handler runs, no dialog opens, and the
 * long value is shown whole.
 */
describe('the web console shows hostile and long request values as text', () => {
  let rig: ConsoleRig

  beforeAll(async () => {
    rig = await startConsoleRig()
    await rig.client.publishRequest({ tenant: TENANT, requestId: REQUEST_ID, owner: HOSTILE_OWNER, body: { payload: PAYLOAD, metadata: { action: 'CREATED' } } })
    const token = signToken(rig.secret, { tenant: TENANT, role: 'EXPLOIT' }, 600)
    await waitFor(
      async () => (await fetch(`${rig.origin}/api/v1/requests/${REQUEST_ID}`, { headers: { authorization: `Bearer ${token}` } })).status === 200,
      'the request to be registered',
      { timeoutMs: 30_000 },
    )
  }, 90_000)

  afterAll(() => rig?.close(), 30_000)

  /** Nothing of the hostile strings ran or became an element on the page. */
  async function expectInert(page: Page, dialogs: string[]) {
    expect(dialogs).toEqual([])
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
    expect(await page.locator('main :is(img, script, svg, b, a[href^="javascript"])').count()).toBe(0)
  }

  it('lists the request with its hostile owner as text, and shows its payload whole, as text', async () => {
    const { context, page } = await rig.newPage()
    const dialogs: string[] = []
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    await page.goto(rig.signInLink('EXPLOIT'))
    await page.getByRole('heading', { name: 'Overview' }).waitFor()

    await page.goto(`${rig.origin}/console/requests`)
    await page.getByRole('link', { name: REQUEST_ID }).waitFor()
    await expect(page.getByRole('row', { name: new RegExp(REQUEST_ID) }).getByRole('cell').nth(2).textContent()).resolves.toBe(HOSTILE_OWNER)
    await expectInert(page, dialogs)

    await page.getByRole('link', { name: REQUEST_ID }).click()
    await page.getByRole('heading', { name: new RegExp(`Request ${REQUEST_ID}`) }).waitFor()
    const payload = (await page.getByLabel('Payload').textContent()) ?? ''
    for (const value of Object.values(PAYLOAD.properties)) expect(payload).toContain(value)
    expect(await page.getByText(HOSTILE_OWNER, { exact: true }).count()).toBe(1)
    await rig.shot(page, 'request-hostile', { fullPage: false })
    await expectInert(page, dialogs)
    await context.close()
  })
})
