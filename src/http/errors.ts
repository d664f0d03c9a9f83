import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  catalogued,
  ERR_BAD_REQUEST,
  ERR_BODY_TOO_LARGE,
  ERR_INTERNAL,
  ERR_MALFORMED_JSON,
  ERR_ROUTE_NOT_FOUND,
  ERR_UNSUPPORTED_MEDIA_TYPE,
  ERR_VALIDATION,
  HeraldError,
  type ErrorKind,
  type ErrorType,
} from '../errors.ts'

/** The HTTP status of each kind of refusal of the catalogue (src/errors.ts). */
export const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
}

export const statusOf = (err: HeraldError): number => HTTP_STATUS[err.kind]

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export function problemBody(problem: HeraldError, instance?: string): Record<string, unknown> {
  return {
    type: `urn:herald:problem:${problem.code}`,
    title: problem.title,
    status: statusOf(problem),
    code: problem.code,
    ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
    ...(instance ? { instance } : {}),
    ...problem.details,
  }
}

export function sendProblem(reply: FastifyReply, problem: HeraldError): FastifyReply {
  return reply
    .code(statusOf(problem))
    .type(PROBLEM_CONTENT_TYPE)
    .serializer(JSON.stringify)
    .send(problemBody(problem, reply.request.url.split('?')[0]))
}

const FASTIFY_CODES: Record<string, ErrorType> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ERR_MALFORMED_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: ERR_MALFORMED_JSON,
  FST_ERR_CTP_BODY_TOO_LARGE: ERR_BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ERR_BAD_REQUEST,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ERR_UNSUPPORTED_MEDIA_TYPE,
}

/** Any error thrown by a route or by fastify itself, as a problem document. */
export function toProblem(err: unknown): HeraldError {
  if (err instanceof HeraldError) return err
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
  // Errors of other modules that carry one of the catalogue's codes (the catalog queries' bad cursor).
  const ours = catalogued(err)
  if (ours) return ours
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return ERR_BAD_REQUEST(e.message)
  return ERR_INTERNAL()
}

/** Every error and every unknown route of `app` answers a problem document. */
export function installProblemHandlers(app: FastifyInstance<any, any, any, any, any>): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(err)
    if (statusOf(problem) >= 500) req.log.error({ err }, 'request failed')
    return sendProblem(reply, problem)
  })
  app.setNotFoundHandler((req, reply) => sendProblem(reply, ERR_ROUTE_NOT_FOUND(`${req.method} ${req.url.split('?')[0]}`)))
}
