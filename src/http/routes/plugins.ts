import { Type } from 'typebox'
import { pluginsList } from '../../ops/plugins-list.ts'
import { pluginsShow } from '../../ops/plugins-show.ts'
import { routesOf } from '../endpoint.ts'
import { strict, type App, type RouteDeps } from '../schemas.ts'

const Parameter = Type.Object({
  name: Type.String(),
  label: Type.String(),
  type: Type.String({ description: 'REGARDS PluginParamType: STRING, INTEGER, LONG, BOOLEAN, DOUBLE, COLLECTION, MAP' }),
  optional: Type.Boolean(),
  defaultValue: Type.Optional(Type.Unknown({ description: 'absent when the parameter has no fixed default' })),
  description: Type.String(),
  sensitive: Type.Boolean({ description: 'a secret: masked (********) in every answer and export' }),
  constraints: Type.Optional(
    Type.Object({
      enum: Type.Optional(Type.Array(Type.Unknown())),
      minimum: Type.Optional(Type.Number()),
      maximum: Type.Optional(Type.Number()),
      minLength: Type.Optional(Type.Integer()),
      pattern: Type.Optional(Type.String()),
      format: Type.Optional(Type.String()),
      formatDescription: Type.Optional(Type.String()),
    }),
  ),
})

const Plugin = Type.Object(
  {
    pluginId: Type.String(),
    kind: Type.Union([Type.Literal('RECIPIENT'), Type.Literal('RULE')], { description: 'RECIPIENT: a recipient sender; RULE: a rule matcher' }),
    version: Type.String(),
    author: Type.String(),
    description: Type.String(),
    parameters: Type.Array(Parameter),
  },
  { description: 'A plugin and its parameters, as REGARDS PluginMetaData; components.schemas.<pluginId>Parameters gives them as JSON Schema' },
)

/** Discovery: which plugins Herald has and what parameters each takes (`herald plugins list|show`). */
export async function pluginsRoutes(app: App, _deps: RouteDeps): Promise<void> {
  const route = routesOf(app, 'plugins')
  route.get('/plugins', { access: 'read', summary: 'Every recipient sender and rule matcher, with its parameters', response: { 200: Type.Array(Plugin) } }, async (req) => pluginsList(req.principal))
  route.get(
    '/plugins/:pluginId',
    { access: 'read', summary: 'One plugin and its parameters', params: strict({ pluginId: Type.String({ pattern: '^[A-Za-z0-9_.$-]{1,255}$' }) }), response: { 200: Plugin }, problems: [400, 404] },
    async (req) => pluginsShow(req.principal, req.params),
  )
}
