import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Registry } from 'prom-client'
import type { Backend } from '../src/db/client.ts'
import { loadTokenKeys, signToken, type TokenKeys } from '../src/http/auth.ts'
import { createHttpServer } from '../src/http/server.ts'
import { createMetrics } from '../src/metrics.ts'
import type { Herald } from '../src/main.ts'
import type { Role } from '../src/roles.ts'
import { startTestHerald } from './support/herald.ts'
import { createTestStorage, createVhost, type TestStorage } from './support/services.ts'

/** A Herald (notifier role) on a fresh vhost and storage, plus its HTTP server driven with inject(). */
export interface HttpFixture {
  herald: Herald
  app: FastifyInstance
  keys: TokenKeys
  metrics: Registry
  vhost: Awaited<ReturnType<typeof createVhost>>
  storage: TestStorage
  token(tenant: string, role: string, expiresIn?: number): string
  /** inject() with a bearer token for (tenant, role), or none when `as` is null. */
  call(method: InjectOptions['method'], url: string, opts?: { as?: [string, string] | null; body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<LightMyRequestResponse>
  close(): Promise<void>
}

/** `storage`: a storage the caller made and drops itself (a Herald restarted on it, or the CLI run between two). */
export async function startHttpFixture(backend: Backend, opts: { env?: Record<string, string>; roles?: Role[]; storage?: TestStorage } = {}): Promise<HttpFixture> {
  const vhost = await createVhost()
  const storage = opts.storage ?? (await createTestStorage(backend))
  const herald = await startTestHerald({ storage, amqpUrl: vhost.url, roles: opts.roles ?? ['notifier'], env: opts.env })
  const keys = loadTokenKeys(herald.ctx.config)
  const metrics = createMetrics(herald.ctx.events, { tenants: herald.ctx.config.tenants, configCache: herald.ctx.configCache })
  // The catalog routes too: served where the catalog role runs (roles: ['catalog']), answering empty elsewhere.
  const app = await createHttpServer(herald.ctx, { metrics, consuming: () => true, tokenKeys: keys, catalog: true })
  await app.ready()
  const token = (tenant: string, role: string, expiresIn = 3600) => signToken(keys.hs256, { tenant, role }, expiresIn)
  return {
    herald,
    app,
    keys,
    metrics,
    vhost,
    storage,
    token,
    call(method, url, { as = ['project1', 'ADMIN'], body, headers = {}, raw } = {}) {
      const h: Record<string, string> = { ...headers }
      if (as) h.authorization = `Bearer ${token(as[0], as[1])}`
      if (body !== undefined || raw !== undefined) h['content-type'] ??= 'application/json'
      return app.inject({ method, url, headers: h, payload: raw ?? (body === undefined ? undefined : JSON.stringify(body)) })
    },
    async close() {
      await app.close()
      await herald.stop()
      if (!opts.storage) await storage.drop()
      await vhost.drop()
    },
  }
}

export const param = (name: string, value: unknown) => ({ name, type: typeof value === 'boolean' ? 'BOOLEAN' : 'STRING', value })

/** A RabbitMQSender recipient whose queue the sender declares and binds: its deliveries have somewhere to go. */
export const rabbitRecipient = (businessId: string, extra: Record<string, unknown> = {}) => ({
  businessId,
  pluginId: 'RabbitMQSender',
  label: `recipient ${businessId}`,
  parameters: Object.entries({ exchange: `ext.${businessId}`, queueName: `ext.${businessId}.q`, recipientLabel: businessId, ...extra }).map(([k, v]) => param(k, v)),
})

export const luceneRule = (businessId: string, metadataRule: string, recipients: string[]) => ({
  businessId,
  pluginId: 'LuceneRuleMatcher',
  label: `rule ${businessId}`,
  parameters: [param('metadata_rule', metadataRule)],
  recipients,
})
