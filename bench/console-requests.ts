import { loadTokenKeys, signToken } from '../src/http/auth.ts'
import { startTestHerald } from '../test/support/herald.ts'
import { seedRequests } from '../test/support/seed-requests.ts'
import { createTestStorage, createVhost, freePort } from '../test/support/services.ts'
import { median, progress, type Figure } from './harness.ts'

/**
 * The console's requests page at scale: 100,000 requests in PostgreSQL (test/support/seed-requests.ts:
 * 60 % completed, the rest live in every state, with deliveries), Herald's HTTP role alone, and the time
 * of GET /api/v1/requests as the console asks it (50 a page) — the first page, filtered pages and the
 * next page by cursor — each the median of SAMPLES calls in a row after one warm-up call, against the
 * 1 s target of opening the page.
 */
const COUNT = 100_000
const SAMPLES = 7
const TARGET_MS = 1000

export async function benchConsoleRequests(): Promise<Figure[]> {
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  const port = await freePort()
  const herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['http'], env: { HERALD_HTTP_PORT: String(port), HERALD_API_RATE_LIMIT: '0' } })
  try {
    const seedStarted = performance.now()
    const seeded = await seedRequests(herald.ctx.db, { count: COUNT })
    const seedSeconds = (performance.now() - seedStarted) / 1000
    progress(`console.requests: ${COUNT.toLocaleString('en-US')} requests seeded in ${seedSeconds.toFixed(1)} s`)
    const authorization = `Bearer ${signToken(loadTokenKeys(herald.ctx.config).hs256, { tenant: seeded.tenant, role: 'EXPLOIT' }, 3600)}`
    const get = async (query: string): Promise<{ ms: number; body: { items: unknown[]; nextCursor?: string } }> => {
      const started = performance.now()
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/requests?limit=50${query}`, { headers: { authorization } })
      const body = await res.json()
      const ms = performance.now() - started
      if (res.status !== 200 || body.items.length === 0) throw new Error(`GET /api/v1/requests?${query}: ${res.status} with ${body.items?.length} items`)
      return { ms, body }
    }
    const time = async (query: string) => {
      await get(query) // warm-up: connections, plans, JIT
      const samples: number[] = []
      for (let i = 0; i < SAMPLES; i++) samples.push((await get(query)).ms)
      return median(samples)
    }
    const first = await get('')
    const pages: [string, string][] = [
      ['first_page', ''],
      ['next_page', `&cursor=${first.body.nextCursor}`],
      ['state_error_page', '&state=ERROR'],
      ['owner_page', `&owner=${seeded.owners.rare}`],
      ['recipient_page', `&recipient=${seeded.recipients.rare}`],
      // Unindexed (any payload field): a walk of the requests newest first until a page is found.
      ['payload_field_page', `&field=properties.mission&value=${seeded.mission}`],
    ]
    const figures: Figure[] = [{ name: 'console.requests.seed_s', value: seedSeconds, unit: 's' }]
    for (const [name, query] of pages) {
      const ms = await time(query)
      figures.push({ name: `console.requests.${name}_ms`, value: ms, unit: 'ms', reference: TARGET_MS, referenceName: '1 s target', target: `≤ ${TARGET_MS}` })
    }
    return figures
  } finally {
    await herald.stop()
    await storage.drop()
    await vhost.drop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await benchConsoleRequests()) console.log(`${f.name}\t${f.value.toFixed(1)}\t${f.unit}`)
}
