import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { Ctx } from '../context.ts'
import { closeSession, findSession, openSession, SESSION_TOKEN_PREFIX } from '../console-sessions/sessions.ts'
import { readSignInCode } from '../console-sessions/sign-in-code.ts'
import type { Principal } from '../ops/principal.ts'
import type { TokenKeys } from './auth.ts'
import { ERR_CONSOLE_NOT_BUILT, ERR_SIGN_IN_REFUSED, ERR_TENANT_NOT_ACCEPTED, ERR_TOKEN_INVALID, HeraldError } from '../errors.ts'
import { sendProblem } from './errors.ts'
import { routesOf } from './endpoint.ts'
import type { App } from './schemas.ts'

/** Built by `npm run build:console` (part of `npm ci`) from src/console. */
export const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/console')

/**
 * Scripts, styles and API calls only from Herald's own origin, nothing inline, no framing: a payload
 * value that slipped into the page as markup could still not run.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' }

/**
 * Serves the console's built files from memory (about 40 KiB, read once at start): hashed assets are
 * cached for a year, and every other path under /console/ answers the app's page, so a deep link such as
 * /console/requests/abc opens that screen.
 */
export function registerConsoleAssets(app: FastifyInstance, dir = CONSOLE_DIR): void {
  const index = fs.existsSync(path.join(dir, 'index.html')) ? fs.readFileSync(path.join(dir, 'index.html')) : undefined
  const assets = new Map<string, Buffer>()
  const assetDir = path.join(dir, 'assets')
  if (fs.existsSync(assetDir)) for (const name of fs.readdirSync(assetDir)) assets.set(name, fs.readFileSync(path.join(assetDir, name)))
  const publicRoute = { config: { access: 'public' as const }, schema: { hide: true } }

  const page = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    if (!index) return sendProblem(reply, ERR_CONSOLE_NOT_BUILT())
    return reply.header('content-security-policy', CONSOLE_CSP).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(index)
  }
  app.get('/console', publicRoute, async (_req, reply) => reply.redirect('/console/', 308))
  app.get('/console/', publicRoute, page)
  app.get<{ Params: { file: string } }>('/console/assets/:file', publicRoute, async (req, reply) => {
    const body = assets.get(req.params.file)
    if (!body) return reply.code(404).type('text/plain').send('no such console asset')
    return reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(TYPES[path.extname(req.params.file)] ?? 'application/octet-stream')
      .send(body)
  })
  app.get('/console/*', publicRoute, page)
}

/** Whether an authorization header carries a console session token rather than a JWT. */
export const isConsoleSessionHeader = (authorization: string | undefined) =>
  authorization !== undefined && /^Bearer +hcs_/i.test(authorization)

const bearer = (authorization: string | undefined) => /^Bearer +(\S+)/i.exec(authorization ?? '')?.[1] ?? ''

/** The principal of a console session token, or the 401 to answer (unknown, expired or signed out). */
export async function consoleSessionPrincipal(ctx: Ctx, authorization: string | undefined): Promise<Principal | HeraldError> {
  const session = await findSession(ctx.db, bearer(authorization))
  if (!session) return ERR_TOKEN_INVALID('this console session has ended: sign in again')
  return { tenant: session.tenant, role: session.role, subject: `console:${session.subject}` }
}

const SignInAnswer = Type.Object({
  token: Type.String({ description: `opaque session token (${SESSION_TOKEN_PREFIX}…), sent as a bearer token` }),
  tenant: Type.String(),
  role: Type.Union([Type.Literal('ADMIN'), Type.Literal('EXPLOIT')]),
  subject: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
})

/** Sign-in by one-time code and sign-out, under /api/v1/console. */
export async function consoleRoutes(app: App, { ctx, tokenKeys }: { ctx: Ctx; tokenKeys: TokenKeys }): Promise<void> {
  const route = routesOf(app, 'console')
  route.post(
    '/console/sign-in',
    {
      access: 'public',
      summary: 'Exchange a one-time code printed by `herald console` for a console session (single use, 5 minutes)',
      body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
      response: { 200: SignInAnswer },
      problems: [400, 401, 403],
    },
    async (req) => {
      const grant = readSignInCode(tokenKeys.hs256, req.body.code)
      if ('refused' in grant) throw ERR_SIGN_IN_REFUSED(grant.refused)
      if (ctx.config.tenants && !ctx.config.tenants.has(grant.tenant)) {
        throw ERR_TENANT_NOT_ACCEPTED(`tenant ${grant.tenant} is not in HERALD_TENANTS`)
      }
      const opened = await openSession(ctx.db, grant)
      if ('refused' in opened) throw ERR_SIGN_IN_REFUSED(opened.refused)
      req.log.info({ tenant: grant.tenant, role: grant.role, subject: grant.subject }, 'console session opened')
      return { token: opened.token, tenant: grant.tenant, role: grant.role, subject: grant.subject, expiresAt: opened.session.expiresAt.toISOString() }
    },
  )
  route.post(
    '/console/sign-out',
    { access: 'read', summary: 'End the console session of the bearer token (a JWT is not revocable: nothing happens)', response: { 204: Type.Null() }, problems: [401] },
    async (req, reply) => {
      if (isConsoleSessionHeader(req.headers.authorization)) await closeSession(ctx.db, bearer(req.headers.authorization))
      return reply.code(204).send(null)
    },
  )
}
