import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify'
import { Type, type TSchema } from 'typebox'
import type { Ctx } from '../context.ts'
import { FIELD_PATH } from '../ops/request-filter-input.ts'
import type { Access, Principal } from '../ops/principal.ts'

/** The fastify instance routes are registered on: TypeBox schemas give typed params, query and body. */
export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>

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

/** Request bodies and queries reject unknown members (400), so a typo never passes silently. */
export const strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T, options: { description?: string } = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options })

export const BusinessId = Type.String({ pattern: '^[0-9a-zA-Z_-]{1,36}$', description: 'REGARDS businessId: 1 to 36 characters among [0-9a-zA-Z_-]' })
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

/** Error answers every protected operation may give, for the OpenAPI document. */
export const problems = (...statuses: number[]) => Object.fromEntries([401, 403, ...statuses].map((s) => [s, Problem]))

export const PluginParameterSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    type: Type.Optional(Type.String({ maxLength: 64, description: 'STRING, BOOLEAN, INTEGER, MAP, COLLECTION …' })),
    value: Type.Optional(Type.Unknown()),
    dynamic: Type.Optional(Type.Boolean()),
    dynamicsValues: Type.Optional(Type.Array(Type.Unknown())),
  },
  { additionalProperties: false, description: 'REGARDS plugin parameter; secrets are returned as ********' },
)

export const PluginFields = {
  pluginId: Type.String({ minLength: 1, maxLength: 255 }),
  label: Type.String({ minLength: 1, maxLength: 255 }),
  version: Type.Optional(Type.String({ maxLength: 32 })),
  priorityOrder: Type.Optional(Type.Integer()),
  active: Type.Optional(Type.Boolean()),
  parameters: Type.Array(PluginParameterSchema, { maxItems: 500 }),
}

export const BusinessIdParams = strict({ businessId: BusinessId })

/** Gson omits null values: a parameter without `value` is a parameter whose value is null. */
export const withValues = <P extends { value?: unknown }>(parameters: P[]) => parameters.map((p) => ({ ...p, value: p.value ?? null }))

export const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null)
