import fs from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createSignInCode } from '../../src/console-sessions/sign-in-code.ts'
import { loadTokenKeys } from '../../src/http/auth.ts'
import { CONSOLE_DIR } from '../../src/http/console.ts'
import type { Herald, Role } from '../../src/main.ts'
import { RegardsClient } from './amqp-client.ts'
import { launchBrowser, SCREENSHOT_DIR } from './browser.ts'
import { importConfig, startTestHerald } from './herald.ts'
import { createTestStorage, createVhost, freePort, type TestStorage } from './services.ts'

/** The tenant every console test signs in to. */
export const CONSOLE_TENANT = 'project1'

export interface ConsoleRig {
  herald: Herald
  storage: TestStorage
  /** A REGARDS producer on the rig's vhost (publishes requests, declares exchanges). */
  client: RegardsClient
  vhostUrl: string
  /** `http://127.0.0.1:<port>`: the console is at `${origin}/console/`. */
  origin: string
  /** The instance's HS256 secret: sign-in codes and tokens. */
  secret: Buffer
  browser: Browser
  /** Every URL a page of the rig asked for outside Herald's origin (a test expects none). */
  outside: string[]
  /** Every Content-Security-Policy refusal a page of the rig reported (a test expects none). */
  refused: string[]
  /** A one-time sign-in link, as `herald console` prints it. */
  signInLink(role?: 'ADMIN' | 'EXPLOIT', subject?: string): string
  /** A page in a fresh browser context (its own sessionStorage), watched for outside requests and CSP refusals. */
  newPage(viewport?: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }>
  /** `newPage`, signed in by link, on the overview. */
  signedIn(role?: 'ADMIN' | 'EXPLOIT', subject?: string, viewport?: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }>
  /** Saves test-output/console/<name>.png. */
  shot(page: Page, name: string, opts?: { fullPage?: boolean }): Promise<unknown>
  close(): Promise<void>
}

/**
 * One Herald (the http role and `roles`) on a fresh vhost and PostgreSQL database, with `configuration`
 * imported for the tenant, and Debian's Chromium to look at its console.
 */
export async function startConsoleRig(opts: { roles?: Role[]; env?: Record<string, string>; configuration?: unknown[] } = {}): Promise<ConsoleRig> {
  if (!fs.existsSync(path.join(CONSOLE_DIR, 'index.html'))) throw new Error('the console is not built: npm run build:console')
  // What is started so far, stopped in reverse order by close() or when a later step fails.
  const started: (() => Promise<unknown>)[] = []
  const close = async () => {
    for (const stop of started.splice(0).reverse()) await stop()
  }
  const start = async <T>(make: () => Promise<T> | T, stop: (t: T) => Promise<unknown>): Promise<T> => {
    const made = await make()
    started.push(() => stop(made))
    return made
  }
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const roles = [...new Set<Role>([...(opts.roles ?? ['notifier']), 'http'])]
  const startAll = async () => {
    const vhost = await start(createVhost, (v) => v.drop())
    const storage = await start(() => createTestStorage('postgres'), (s) => s.drop())
    const herald = await start(() => startTestHerald({ storage, amqpUrl: vhost.url, roles, env: { HERALD_HTTP_PORT: String(port), ...opts.env } }), (h) => h.stop())
    if (opts.configuration) await importConfig(herald, CONSOLE_TENANT, opts.configuration)
    const client = await start(() => new RegardsClient(vhost.url), (c) => c.close())
    const browser = await start(launchBrowser, (b) => b.close())
    return { vhost, storage, herald, client, browser }
  }
  const { vhost, storage, herald, client, browser } = await startAll().catch(async (err) => {
    await close()
    throw err
  })
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true })
  console.log(`console screenshots: ${SCREENSHOT_DIR}`)
  const secret = loadTokenKeys(herald.ctx.config).hs256
  const outside: string[] = []
  const refused: string[] = []

  const signInLink = (role: 'ADMIN' | 'EXPLOIT' = 'ADMIN', subject = 'alice') =>
    `${origin}/console/sign-in#code=${createSignInCode(secret, { tenant: CONSOLE_TENANT, role, subject })}`
  const newPage = async (viewport = { width: 1280, height: 900 }) => {
    const context = await browser.newContext({ viewport })
    const page = await context.newPage()
    page.on('request', (r) => {
      if (!r.url().startsWith(`${origin}/`)) outside.push(r.url())
    })
    // Chromium reports what the policy blocked as a console error ("Refused to apply inline style …").
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) refused.push(m.text())
    })
    return { context, page }
  }
  return {
    herald,
    storage,
    client,
    vhostUrl: vhost.url,
    origin,
    secret,
    browser,
    outside,
    refused,
    signInLink,
    newPage,
    async signedIn(role = 'ADMIN', subject = 'alice', viewport) {
      const opened = await newPage(viewport)
      await opened.page.goto(signInLink(role, subject))
      await opened.page.getByRole('heading', { name: 'Overview' }).waitFor()
      return opened
    },
    shot: (page, name, { fullPage = true } = {}) => page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage }),
    close,
  }
}
