import { randomUUID } from 'node:crypto'
import helmet from '@fastify/helmet'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Ctx } from '../context.ts'
import { isDatabaseReachable } from '../db/client.ts'
import { loadTokenKeys, metricsTokenMatches, type TokenKeys } from './auth.ts'
import { consoleRoutes, registerConsoleAssets } from './console.ts'
import { consoleEventRoutes } from './console-events.ts'
import { ERR_TOKEN_INVALID, ERR_UNAUTHENTICATED } from '../errors.ts'
import { installProblemHandlers, sendProblem } from './errors.ts'
import { installGuard } from './guard.ts'
import { registerDatabaseGauges } from './metrics.ts'
import { registerOpenApi } from './openapi.ts'
import { auditRoutes } from './routes/audit.ts'
import { configurationRoutes } from './routes/configuration.ts'
import { deadLettersRoutes } from './routes/dead-letters.ts'
import { pluginsRoutes } from './routes/plugins.ts'
import { productsRoutes } from './routes/products.ts'
import { recipientsRoutes } from './routes/recipients.ts'
import { requestsRoutes } from './routes/requests.ts'
import { rulesRoutes } from './routes/rules.ts'
import { bulkRetryRoutes } from './routes/bulk-retry.ts'
import { catalogRoutes } from './routes/catalog.ts'
import { completenessRoutes } from './routes/completeness.ts'
import { overviewRoutes } from './routes/overview.ts'
import { requestDecisionsRoutes } from './routes/request-decisions.ts'
import type { App } from './schemas.ts'

export interface HttpDeps {
  metrics: Registry
  /** True while the AMQP consumers of this instance are running. */
  consuming: () => boolean
  /** Verification keys; loaded from the configuration when absent. */
  tokenKeys?: TokenKeys
  /** Serve the catalog's routes (products, catalog requests and their operations): where the catalog role runs. */
  catalog?: boolean
}

/** Request bodies above 1 MiB are refused (413): a REGARDS configuration of 500 recipients is ~300 KiB. */
export const BODY_LIMIT = 1024 * 1024
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/
// /health/ready answers within 2 s whatever the database does (a pool held by long transactions, a lock,
// a server that stopped answering): the database gets 1 s to answer `select 1`, then counts as down.
const READY_DATABASE_TIMEOUT_MS = 1000

function within<T>(promise: Promise<T>, ms: number, otherwise: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(otherwise), ms)))
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/**
 * The admin HTTP server: the REST API under /api/v1 (bearer JWT, tenant from the token), its OpenAPI
 * document and page, health and metrics. Every log line carries the request id (x-request-id, taken
 * from the caller when well-formed) and, once authenticated, the tenant.
 */
export async function createHttpServer(ctx: Ctx, deps: HttpDeps): Promise<FastifyInstance> {
  const keys = deps.tokenKeys ?? loadTokenKeys(ctx.config)
  const app = Fastify({
    loggerInstance: ctx.log.child({ module: 'http' }),
    // Request lines are written by the onResponse hook below, with the tenant once authenticated.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
  }).withTypeProvider<TypeBoxTypeProvider>()
  // TypeBox checks bodies as sent (no coercion: "1" is not a number) and converts query and path strings.
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  // An empty body counts as no body (clients often send content-type: application/json on a bodiless POST).
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) done(null, undefined)
    else parseJson(req, body as string, done)
  })
  installProblemHandlers(app)

  // Security headers on every answer, errors and 404s included. No upgrade-insecure-requests: Herald is
  // often reached over plain HTTP on a private network, where it would break pages it serves.
  await app.register(helmet, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id)
  })
  await installGuard(app, ctx, keys)
  app.addHook('onResponse', async (req, reply) => {
    const fields = { method: req.method, url: req.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }
    if (reply.statusCode >= 500) req.log.error(fields, 'request failed')
    else req.log.info(fields, 'request completed')
  })

  await registerOpenApi(app, process.env.npm_package_version ?? '0.1.0')
  await app.register(
    async (api) => {
      const routes = api as unknown as App
      // In this order in the OpenAPI document; the catalog's routes only where this Herald runs the catalog.
      const catalog = deps.catalog ? [productsRoutes, catalogRoutes] : []
      for (const register of [recipientsRoutes, rulesRoutes, configurationRoutes, requestsRoutes, requestDecisionsRoutes, bulkRetryRoutes, deadLettersRoutes, ...catalog, pluginsRoutes, auditRoutes, overviewRoutes, completenessRoutes]) {
        await register(routes, { ctx })
      }
      await consoleRoutes(routes, { ctx, tokenKeys: keys })
      await consoleEventRoutes(routes, { ctx })
    },
    { prefix: '/api/v1' },
  )

  const operations = { config: { access: 'public' as const }, schema: { tags: ['operations'], security: [] } }
  app.get('/health/live', { ...operations, schema: { ...operations.schema, summary: 'The process is up' } }, async () => ({ status: 'UP' }))
  app.get('/health/ready', { ...operations, schema: { ...operations.schema, summary: 'Database, broker and consumers are up (503 otherwise)' } }, async (_req, reply) => {
    const checks = { database: await within(isDatabaseReachable(ctx.db), READY_DATABASE_TIMEOUT_MS, false), broker: ctx.broker.ready, consumers: deps.consuming() }
    const up = Object.values(checks).every(Boolean)
    return reply.code(up ? 200 : 503).send({ status: up ? 'UP' : 'DOWN', checks })
  })
  registerConsoleAssets(app as unknown as FastifyInstance)
  registerDatabaseGauges(deps.metrics, ctx.db, ctx.log.child({ module: 'metrics' }), ctx.config.tenants)
  const metricsToken = ctx.config.metricsToken
  app.get('/metrics', { ...operations, schema: { ...operations.schema, summary: 'Prometheus metrics (bearer HERALD_METRICS_TOKEN when set)' } }, async (req, reply) => {
    if (metricsToken !== undefined && !metricsTokenMatches(metricsToken, req.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer realm="herald-metrics"')
      const detail = '/metrics requires the bearer token set in HERALD_METRICS_TOKEN'
      return sendProblem(reply, req.headers.authorization ? ERR_TOKEN_INVALID(detail) : ERR_UNAUTHENTICATED(detail))
    }
    return reply.type(deps.metrics.contentType).send(await deps.metrics.metrics())
  })
  return app as unknown as FastifyInstance
}
