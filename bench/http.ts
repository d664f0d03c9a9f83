import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'
import type { Backend } from '../src/db/client.ts'
import { loadTokenKeys, signToken } from '../src/http/auth.ts'
import { savePlugin } from '../src/notifier/plugin-configurations.ts'
import { createHttpServer } from '../src/http/server.ts'
import { createMetrics } from '../src/metrics.ts'
import { startTestHerald } from '../test/support/herald.ts'
import { createTestStorage, createVhost } from '../test/support/services.ts'

/**
 * Requests per second of GET /api/v1/recipients (20 recipients, with their live state: two grouped
 * queries per call) with a valid token, over real sockets: undici, 50 concurrent requests, for
 * BENCH_HTTP_SECONDS (default 10) per backend. autocannon is not a dependency; this loop measures the same
 * thing with the HTTP client Herald already ships. Also: invalid tokens per second (answered before any
 * database access).
 */
const CONCURRENCY = 50
const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 10)

async function load(pool: Pool, path: string, authorization: string, expected: number, seconds = SECONDS): Promise<{ perSecond: number; p50: number; p99: number; errors: number }> {
  const latencies: number[] = []
  let errors = 0
  const deadline = performance.now() + seconds * 1000
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now()
        const res = await pool.request({ method: 'GET', path, headers: { authorization } })
        await res.body.dump()
        if (res.statusCode === expected) latencies.push(performance.now() - started)
        else errors++
      }
    }),
  )
  latencies.sort((a, b) => a - b)
  const at = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 10) / 10
  return { perSecond: Math.round(latencies.length / seconds), p50: at(0.5), p99: at(0.99), errors }
}

async function benchBackend(backend: Backend): Promise<{ name: string; value: number; unit: string }[]> {
  const vhost = await createVhost()
  const storage = await createTestStorage(backend)
  // The rate limit is off: this measures what the API serves, not how fast it refuses one token.
  const herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: ['notifier'], env: { HERALD_API_RATE_LIMIT: '0' } })
  try {
    for (let i = 0; i < 20; i++) {
      await savePlugin(herald.ctx.db, herald.ctx.secrets, 'bench', 'RECIPIENT', `recipient-${i}`, { pluginId: 'RabbitMQSender', label: `r${i}`, parameters: [{ name: 'exchange', value: `ext.${i}` }], active: false }, 'create')
    }
    const keys = loadTokenKeys(herald.ctx.config)
    const app = await createHttpServer(herald.ctx, { metrics: createMetrics(herald.ctx.events, { tenants: undefined, configCache: herald.ctx.configCache }), consuming: () => true, tokenKeys: keys })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1 })
    try {
      const valid = `Bearer ${signToken(keys.hs256, { tenant: 'bench', role: 'EXPLOIT' }, 3600)}`
      await load(pool, '/api/v1/recipients', valid, 200, 2) // warm-up: JIT, connection pool, query plans
      const ok = await load(pool, '/api/v1/recipients', valid, 200)
      const invalid = await load(pool, '/api/v1/recipients', `Bearer ${signToken(Buffer.from('wrong'), { tenant: 'bench', role: 'ADMIN' }, 3600)}`, 401)
      return [
        { name: `http.recipients.${backend}.requests_per_second`, value: ok.perSecond, unit: 'req/s' },
        { name: `http.recipients.${backend}.latency_p50`, value: ok.p50, unit: 'ms' },
        { name: `http.recipients.${backend}.latency_p99`, value: ok.p99, unit: 'ms' },
        { name: `http.recipients.${backend}.errors`, value: ok.errors, unit: 'count' },
        { name: `http.invalid_token.${backend}.requests_per_second`, value: invalid.perSecond, unit: 'req/s' },
      ]
    } finally {
      await pool.close()
      await app.close()
    }
  } finally {
    await herald.stop()
    await storage.drop()
    await vhost.drop()
  }
}

export async function benchHttp(): Promise<{ name: string; value: number; unit: string }[]> {
  const backends = (process.env.BACKENDS?.split(',') as Backend[] | undefined) ?? ['postgres', 'pglite']
  const figures = []
  for (const backend of backends) figures.push(...(await benchBackend(backend)))
  return figures
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await benchHttp()) console.log(`${f.name}\t${f.value}\t${f.unit}`)
}
