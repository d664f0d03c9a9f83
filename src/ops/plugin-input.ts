import { Type, type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { ERR_VALIDATION } from '../errors.ts'

/**
 * The JSON bodies of the plugin configurations (recipients, rules) as every transport takes them: REST
 * validates them with these schemas before the operation (src/http/schemas.ts re-exports them), the CLI's
 * files reach the operation as they are and are checked here, with the same answer.
 */

/** Bodies and queries reject unknown members, so a typo never passes silently. */
export const strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T, options: { description?: string } = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options })

export const BusinessId = Type.String({ pattern: '^[0-9a-zA-Z_-]{1,36}$', description: 'REGARDS businessId: 1 to 36 characters among [0-9a-zA-Z_-]' })

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

/** Gson omits null values: a parameter without `value` is a parameter whose value is null. */
export const withValues = <P extends { value?: unknown }>(parameters: P[]) => parameters.map((p) => ({ ...p, value: p.value ?? null }))

/**
 * `body` checked against `schema`: refused HERALD_ERR_VALIDATION with one line per fault, in the shape
 * REST answers a body its schema refuses (`errors: [{in, path, message}]`).
 */
export function checkBody<S extends TSchema>(schema: S, body: unknown): Static<S> {
  if (Value.Check(schema, body)) return body as Static<S>
  // An unknown member is reported twice (as the member and as its object): its object's line names it.
  const errors = Value.Errors(schema, body)
    .filter((e) => e.keyword !== 'boolean')
    .map((e) => ({
      in: 'body',
      path: e.instancePath || '/',
      message: e.keyword === 'additionalProperties' ? `must not have additional properties (${(e.params as { additionalProperties: string[] }).additionalProperties.join(', ')})` : e.message,
    }))
  throw ERR_VALIDATION(errors.map((x) => `${x.in}${x.path === '/' ? '' : x.path}: ${x.message}`).join('; '), { errors })
}
