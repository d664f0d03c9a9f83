import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify'
import { Type, type TSchema } from 'typebox'
import type { Ctx } from '../context.ts'
import { FIELD_PATH } from '../ops/request-filter-input.ts'
import { BusinessId, strict } from '../ops/plugin-input.ts'
import type { Access, Principal } from '../ops/principal.ts'

/** The fastify instance routes are registered on: TypeBox schemas give typed params, query and body. */
export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>

// The plugin configurations' bodies are the operations' own: REST and the CLI check them alike.
export { BusinessId, PluginFields, PluginParameterSchema, strict, withValues } from '../ops/plugin-input.ts'

export interface RouteDeps {
  ctx: Ctx
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the bearer token speaks for; set by the auth hook on every route that is not public. */
    principal: Principal
  }
  interface FastifyContextConfig {
    /** Role a route requires; `public` routes need no token, routes without one require ADMIN (fail closed). */
    access?: Access | 'public'
  }
}

export const RequestId = Type.String({ minLength: 1, maxLength: 36, description: 'regards.request.id of the request' })
export const DateTime = Type.String({ format: 'date-time' })
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** A payload field and the value it must have (the requests listing, bulk retries): both or neither. */
export const PayloadField = {
  field: Type.Optional(
    Type.String({ pattern: FIELD_PATH.source, maxLength: 329, description: 'a payload field: 1 to 5 names of [A-Za-z0-9_-] separated by dots (properties.mission); with `value`' }),
  ),
  value: Type.Optional(Type.String({ maxLength: 1000, description: 'the value `field` must have, compared as text (a number 5 matches "5")' })),
}

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'stable error code, see docs/api.md' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Unknown())),
  },
  { description: 'RFC 9457 problem document (application/problem+json)' },
)

export const BusinessIdParams = strict({ businessId: BusinessId })

/** The members a rule and a recipient answer alike, both being REGARDS plugin configurations; each adds its own after them. */
export const PluginConfigurationMembers = {
  businessId: Type.String(),
  pluginId: Type.String(),
  label: Type.String(),
  version: Type.String(),
  priorityOrder: Type.Integer(),
  active: Type.Boolean(),
}

export const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null)
