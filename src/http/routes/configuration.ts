import { Type } from 'typebox'
import type { NotifierConfigFile } from '../../notifier/config-import.ts'
import { configurationExport } from '../../ops/configuration-export.ts'
import { configurationImport } from '../../ops/configuration-import.ts'
import { routesOf } from '../endpoint.ts'
import type { App, RouteDeps } from '../schemas.ts'

// The REGARDS file is accepted as REGARDS writes it: members this schema does not name are kept (a
// REGARDS export carries module metadata Herald does not use); the import itself reports each bad entry.
const ConfigFile = Type.Object(
  {
    microservice: Type.Optional(Type.String()),
    modules: Type.Array(
      Type.Object({
        module: Type.Optional(Type.Object({ id: Type.Optional(Type.String()) }, { additionalProperties: true })),
        resetBeforeImport: Type.Optional(Type.Boolean()),
        configuration: Type.Array(Type.Object({ key: Type.String(), value: Type.Unknown() }, { additionalProperties: true })),
      }, { additionalProperties: true }),
      { minItems: 1 },
    ),
  },
  { additionalProperties: true, description: 'REGARDS notifier import/export file' },
)

/** Configuration import/export in the REGARDS format, with the semantics of `herald config import|export`. */
export async function configurationRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'configuration')
  route.get('/configuration', { access: 'read', summary: 'Export rules and recipients (secrets masked) in the REGARDS import format', response: { 200: ConfigFile } }, async (req, reply) => {
    const file = await configurationExport(ctx, req.principal)
    // Serialized as exported (REGARDS member order), not through the response schema.
    return reply.header('content-disposition', 'attachment; filename="config-rs-notifier.json"').serializer(JSON.stringify).send(file)
  })

  route.post(
    '/configuration',
    {
      access: 'admin',
      summary: 'Import a configuration file: all of it (201) or nothing (409 listing every error)',
      description: 'resetBeforeImport=true first deletes the tenant\'s rules, recipients and notification requests, as REGARDS does.',
      body: ConfigFile,
      response: { 201: Type.Object({ plugins: Type.Integer(), associations: Type.Integer(), reset: Type.Boolean() }) },
      problems: [400, 409],
    },
    async (req, reply) => reply.code(201).send(await configurationImport(ctx, req.principal, { file: req.body as NotifierConfigFile })),
  )
}
