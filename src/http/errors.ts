import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The catalogue of every error the REST API answers, as RFC 9457 `application/problem+json` with a stable
 * `code` (mirrored in docs/api.md). Clients branch on `code`, never on `title` or `detail`.
 */
export class HttpProblem extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    /** Extra members of the problem document (e.g. `errors`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title)
    this.name = 'HttpProblem'
  }
}

export interface ProblemType {
  (detail?: string, extra?: Record<string, unknown>): HttpProblem
  readonly code: string
  readonly status: number
  readonly title: string
}

export const PROBLEM_TYPES: ProblemType[] = []

function defineError(code: string, title: string, status: number): ProblemType {
  const make = (detail?: string, extra?: Record<string, unknown>) => new HttpProblem(code, status, title, detail, extra)
  const type = Object.assign(make, { code, status, title })
  PROBLEM_TYPES.push(type)
  return type
}

export const ERR_UNAUTHENTICATED = defineError('HERALD_ERR_UNAUTHENTICATED', 'A bearer token is required', 401)
export const ERR_TOKEN_INVALID = defineError('HERALD_ERR_TOKEN_INVALID', 'The bearer token is invalid', 401)
export const ERR_TOKEN_EXPIRED = defineError('HERALD_ERR_TOKEN_EXPIRED', 'The bearer token has expired', 401)
export const ERR_FORBIDDEN = defineError('HERALD_ERR_FORBIDDEN', 'The role of the token does not allow this operation', 403)
export const ERR_TENANT_NOT_ACCEPTED = defineError('HERALD_ERR_TENANT_NOT_ACCEPTED', 'This Herald does not serve the tenant of the token', 403)
export const ERR_VALIDATION = defineError('HERALD_ERR_VALIDATION', 'The request does not match the schema of the operation', 400)
export const ERR_MALFORMED_JSON = defineError('HERALD_ERR_MALFORMED_JSON', 'The request body is not valid JSON', 400)
export const ERR_BODY_TOO_LARGE = defineError('HERALD_ERR_BODY_TOO_LARGE', 'The request body is too large', 413)
export const ERR_UNSUPPORTED_MEDIA_TYPE = defineError('HERALD_ERR_UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json', 415)
export const ERR_BAD_REQUEST = defineError('HERALD_ERR_BAD_REQUEST', 'The request is malformed', 400)
export const ERR_BAD_CURSOR = defineError('HERALD_ERR_BAD_CURSOR', 'The pagination cursor is not one this API issued', 400)
export const ERR_ROUTE_NOT_FOUND = defineError('HERALD_ERR_ROUTE_NOT_FOUND', 'No such operation', 404)
export const ERR_NOT_FOUND = defineError('HERALD_ERR_NOT_FOUND', 'No such resource in this tenant', 404)
export const ERR_ALREADY_EXISTS = defineError('HERALD_ERR_ALREADY_EXISTS', 'A resource with this id already exists in this tenant', 409)
export const ERR_INVALID_CONFIGURATION = defineError('HERALD_ERR_INVALID_CONFIGURATION', 'The plugin configuration is invalid', 400)
export const ERR_INVALID_RULE = defineError('HERALD_ERR_INVALID_RULE', 'The rule cannot be compiled', 400)
export const ERR_RULE_TOO_SLOW = defineError('HERALD_ERR_RULE_TOO_SLOW', 'The rule took too long to evaluate on this sample', 400)
export const ERR_RECIPIENT_BUSY = defineError('HERALD_ERR_RECIPIENT_BUSY', 'The recipient has deliveries waiting or in progress', 409)
export const ERR_IMPORT_REJECTED = defineError('HERALD_ERR_IMPORT_REJECTED', 'The configuration was not imported, nothing changed', 409)
export const ERR_RATE_LIMITED = defineError('HERALD_ERR_RATE_LIMITED', 'Too many requests: retry after the number of seconds in Retry-After', 429)
export const ERR_BROKER_UNAVAILABLE = defineError('HERALD_ERR_BROKER_UNAVAILABLE', 'The message broker is unreachable', 503)
export const ERR_SIGN_IN_REFUSED = defineError('HERALD_ERR_SIGN_IN_REFUSED', 'The console sign-in code was refused', 401)
export const ERR_CONSOLE_NOT_BUILT = defineError('HERALD_ERR_CONSOLE_NOT_BUILT', 'The console is not built: run npm run build:console', 503)
export const ERR_INTERNAL = defineError('HERALD_ERR_INTERNAL', 'Internal error', 500)

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export function problemBody(problem: HttpProblem, instance?: string): Record<string, unknown> {
  return {
    type: `urn:herald:problem:${problem.code}`,
    title: problem.title,
    status: problem.status,
    code: problem.code,
    ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
    ...(instance ? { instance } : {}),
    ...problem.extra,
  }
}

export function sendProblem(reply: FastifyReply, problem: HttpProblem): FastifyReply {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .serializer(JSON.stringify)
    .send(problemBody(problem, reply.request.url.split('?')[0]))
}

const FASTIFY_CODES: Record<string, ProblemType> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ERR_MALFORMED_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: ERR_MALFORMED_JSON,
  FST_ERR_CTP_BODY_TOO_LARGE: ERR_BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ERR_BAD_REQUEST,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ERR_UNSUPPORTED_MEDIA_TYPE,
}

/** Any error thrown by a route or by fastify itself, as a problem document. */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err
  const e = err as FastifyError & { validationContext?: string }
  if (e?.validation) {
    const errors = e.validation.map((v) => ({
      in: e.validationContext ?? 'body',
      path: v.instancePath || '/',
      message: v.message ?? 'invalid',
    }))
    return ERR_VALIDATION(errors.map((x) => `${x.in}${x.path === '/' ? '' : x.path}: ${x.message}`).join('; '), { errors })
  }
  const known = e?.code ? FASTIFY_CODES[e.code] : undefined
  if (known) return known()
  // Errors of other modules that carry one of our codes (the catalog queries' bad cursor).
  const ours = e?.code ? PROBLEM_TYPES.find((p) => p.code === e.code) : undefined
  if (ours) return ours(e.message)
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return ERR_BAD_REQUEST(e.message)
  return ERR_INTERNAL()
}

/** Every error and every unknown route of `app` answers a problem document. */
export function installProblemHandlers(app: FastifyInstance<any, any, any, any, any>): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(err)
    if (problem.status >= 500) req.log.error({ err }, 'request failed')
    return sendProblem(reply, problem)
  })
  app.setNotFoundHandler((req, reply) => sendProblem(reply, ERR_ROUTE_NOT_FOUND(`${req.method} ${req.url.split('?')[0]}`)))
}
