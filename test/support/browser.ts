import fs from 'node:fs'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'

/** Debian's Chromium (`apt-get install chromium`, done by .ci/run): playwright never downloads a browser here. */
export const CHROMIUM = process.env.HERALD_TEST_CHROMIUM ?? '/usr/bin/chromium'

/** Where the console tests save a screenshot of each screen (printed in the test output). */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../test-output/console')

export function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set HERALD_TEST_CHROMIUM)`)
  // Without the background-networking switches Chromium tries to reach Google's hosts at every start.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}
