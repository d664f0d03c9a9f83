import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {
  ContextConfigDefault,
  FastifyRequest,
  HTTPMethods,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteGenericInterface,
  RouteHandlerMethod,
} from 'fastify'
import type { TSchema } from 'typebox'
import type { Access } from '../ops/principal.ts'
import { Problem, type App } from './schemas.ts'

/**
 * One operation of the REST API as its route module declares it: only what differs from one route to the
 * next. What every route shares is added by {@link routesOf}: the module's OpenAPI tag, the 401 and 403
 * problems, and the role as `config.access`, which the guard (src/http/guard.ts) reads.
 */
export interface Endpoint {
  /** The role it requires; `public` needs no token, and the OpenAPI document says so (`security: []`). */
  access: Access | 'public'
  summary: string
  description?: string
  params?: TSchema
  querystring?: TSchema
  body?: TSchema
  /** No body at all counts as an empty object (the console posts none); the body schema says what that means. */
  bodyOptional?: true
  /** Its answers by status: `{ 200: Rule }`, `{ 201: Rule }`, `{ 204: Type.Null() }`. */
  response?: Record<number, TSchema>
  /** The problem documents it may answer besides 401 and 403, by status: `[400, 404]`. */
  problems?: number[]
  /** Media types of an answer that is not JSON (an event stream). */
  produces?: string[]
}

/** The fastify schema of an endpoint, so the TypeBox type provider types `req.params`, `req.query`, `req.body` and the answers. */
type SchemaOf<E extends Endpoint> = Pick<E, 'params' | 'querystring' | 'body' | 'response'>
type Handler<E extends Endpoint> = RouteHandlerMethod<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  RouteGenericInterface,
  ContextConfigDefault,
  SchemaOf<E>,
  TypeBoxTypeProvider
>
/** A member Endpoint does not name (a misspelt `querystrng`) is refused rather than passed to fastify unread. */
type Exactly<E extends Endpoint> = E & Record<Exclude<keyof E, keyof Endpoint>, never>

/** Every route may answer 401 (no valid token) and 403 (a role or tenant refused); sign-in answers both too. */
const problemAnswers = (statuses: number[]) => Object.fromEntries([401, 403, ...statuses].map((status) => [status, Problem]))

const noBodyIsEmpty = async (req: FastifyRequest) => {
  req.body ??= {}
}

/**
 * The route declarations of one route module, under its OpenAPI tag:
 *
 * ```ts
 * const route = routesOf(app, 'rules')
 * route.get('/rules/:businessId', { access: 'read', summary: 'One rule', params: BusinessIdParams, response: { 200: Rule }, problems: [400, 404] }, async (req) =>
 *   ruleView(await rulesShow(ctx, req.principal, req.params)),
 * )
 * ```
 */
export function routesOf(app: App, tag: string) {
  const declareRoute =
    (method: HTTPMethods) =>
    <E extends Endpoint>(url: string, endpoint: Exactly<E>, handler: Handler<E>): void => {
      const { access, bodyOptional, response, problems = [], ...described } = endpoint as Endpoint
      app.route({
        method,
        url,
        config: { access },
        ...(bodyOptional ? { preValidation: noBodyIsEmpty } : {}),
        schema: { tags: [tag], ...(access === 'public' ? { security: [] } : {}), ...described, response: { ...response, ...problemAnswers(problems) } },
        // Typed by the endpoint's own schemas above (Handler<E>); the tag and the problems add nothing it could use.
        handler: handler as RouteHandlerMethod,
      })
    }
  return { get: declareRoute('GET'), post: declareRoute('POST'), put: declareRoute('PUT'), delete: declareRoute('DELETE') }
}
