import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Ctx } from '../context.ts'
import { authenticate, checkAccess, type TokenKeys } from './auth.ts'
import { consoleSessionPrincipal, isConsoleSessionHeader } from './console.ts'
import { ERR_FORBIDDEN, ERR_RATE_LIMITED, HeraldError } from '../errors.ts'
import { sendProblem } from './errors.ts'
import { OPERATOR_ACTIONS } from '../ops/actions.ts'
import { recordAudit } from '../ops/audit.ts'

const RATE_WINDOW_MS = 60_000

/**
 * The changing action of each REST route, keyed as fastify names the route (`POST /api/v1/recipients/:businessId/park`):
 * a change the role check refuses never reaches its operation, so the guard records it in the audit trail.
 */
const CHANGING_ACTIONS = new Map<string, string>(
  OPERATOR_ACTIONS.filter((a) => a.changes).flatMap((a) => a.rest.map((r) => [`${r.method} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`, a.name] as const)),
)

/** Tokens of one subject of one tenant share a budget; requests without a valid token share their address's. */
const rateKey = (req: FastifyRequest) =>
  req.principal ? `token:${req.principal.tenant}:${req.principal.subject ?? ''}` : `address:${req.ip}`

/**
 * Authentication (a bearer JWT, or a console session token), rate limit and role check of every route that
 * is not public, in one onRequest hook, before any body is read.
 *
 * Decided on the route the router matched, never on `req.url`: the router decodes the path, so a test of
 * the raw URL let `/%61pi/v1/...` reach /api/v1 handlers without a token. Every route is protected unless
 * it says `access: 'public'`; a request that matched no route goes to the 404 handler.
 *
 * The rate limit counts a request before its role is checked, so refused requests count too; it keeps in
 * memory the counters of at most 5,000 keys (@fastify/rate-limit's default), per process.
 */
export async function installGuard(app: FastifyInstance<any, any, any, any, any>, ctx: Ctx, keys: TokenKeys): Promise<void> {
  const max = ctx.config.apiRateLimit
  let limit: ReturnType<FastifyInstance['createRateLimit']> | undefined
  if (max > 0) {
    await app.register(rateLimit, { global: false, max, timeWindow: RATE_WINDOW_MS, keyGenerator: rateKey })
    limit = app.createRateLimit()
  }

  app.addHook('onRequest', async (req, reply) => {
    const access = req.routeOptions.config?.access
    if (access === 'public' || req.routeOptions.url === undefined) return
    const { authorization } = req.headers
    const principal = isConsoleSessionHeader(authorization) ? await consoleSessionPrincipal(ctx, authorization) : authenticate(keys, authorization)
    if (!(principal instanceof HeraldError)) req.principal = principal
    if (limit) {
      const counted = await limit(req)
      if (!counted.isAllowed) {
        reply.header('x-ratelimit-limit', counted.max).header('x-ratelimit-remaining', counted.remaining)
        if (counted.isExceeded) {
          reply.header('retry-after', counted.ttlInSeconds)
          const who = req.principal ? 'this token' : 'this address without a valid token'
          return sendProblem(reply, ERR_RATE_LIMITED(`more than ${counted.max} requests a minute for ${who} (HERALD_API_RATE_LIMIT); retry in ${counted.ttlInSeconds} s`))
        }
      }
    }
    const problem = principal instanceof HeraldError ? principal : checkAccess(principal, ctx.config.tenants, access ?? 'admin')
    if (problem) {
      if (problem.kind === 'unauthenticated') reply.header('www-authenticate', `Bearer realm="herald", error="invalid_token"`)
      const action = CHANGING_ACTIONS.get(`${req.method} ${req.routeOptions.url}`)
      // A known principal of an accepted tenant asked for a change its role does not allow (EXPLOIT deleting).
      if (action && req.principal && problem.code === ERR_FORBIDDEN.code) {
        const target = Object.values((req.params ?? {}) as Record<string, string>)[0]
        await recordAudit(ctx.db, req.principal, { action, target }, problem.code, problem.message).catch((err: unknown) =>
          req.log.error({ err, action }, 'recording a refused change in the audit trail failed'),
        )
      }
      return sendProblem(reply, problem)
    }
    req.log = reply.log = req.log.child({ tenant: req.principal.tenant, role: req.principal.role })
  })
}
