import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Ctx } from '../context.ts'
import { isDatabaseReachable } from '../db/client.ts'

export interface HttpDeps {
  metrics: Registry
  /** True while the AMQP consumers of this instance are running. */
  consuming: () => boolean
}

/** The admin HTTP server: health, metrics (and the REST API under /api/v1). */
export async function createHttpServer(ctx: Ctx, deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 })
  app.get('/health/live', async () => ({ status: 'UP' }))
  app.get('/health/ready', async (_req, reply) => {
    const checks = { database: await isDatabaseReachable(ctx.db), broker: ctx.broker.ready, consumers: deps.consuming() }
    const up = Object.values(checks).every(Boolean)
    return reply.code(up ? 200 : 503).send({ status: up ? 'UP' : 'DOWN', checks })
  })
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()))
  return app
}
