import { Type } from 'typebox'
import { CATALOG_SETTINGS } from '../../catalog/settings.ts'
import { PRIORITY_LEVELS, REQUEST_TYPES } from '../../catalog/types.ts'
import { CREATE_AIPS_MAX, catalogCreateAips } from '../../ops/catalog-create-aips.ts'
import { catalogDisseminate } from '../../ops/catalog-disseminate.ts'
import { catalogForceDeletion } from '../../ops/catalog-force-deletion.ts'
import { catalogRetry } from '../../ops/catalog-retry.ts'
import { catalogSetting } from '../../ops/catalog-setting.ts'
import { catalogShovelClear, catalogShovelSet, catalogShovelStatus } from '../../ops/catalog-shovel.ts'
import { routesOf } from '../endpoint.ts'
import { RequestId, strict, type App, type RouteDeps } from '../schemas.ts'
import { UrnParams } from './products.ts'

const RequestType = Type.Union(REQUEST_TYPES.map((t) => Type.Literal(t)))
const Retried = Type.Object({ retried: Type.Array(Type.String(), { description: 'ids of the requests sent back to GRANTED' }) })
const Forced = Type.Object({ forced: Type.Array(Type.String(), { description: 'ids of the deletion requests forced' }) })
const DisseminationResults = Type.Object({
  results: Type.Array(Type.Object({ urn: Type.String(), requestId: Type.Optional(Type.String()), error: Type.Optional(Type.String()) })),
})
const Settings = Type.Object(Object.fromEntries(Object.keys(CATALOG_SETTINGS).map((name) => [name, Type.Boolean()])))
const Name = Type.String({ minLength: 1, maxLength: 255 })
const AmqpUri = Type.String({ pattern: '^amqps?://', maxLength: 2000, description: 'amqp://user:password@host:5672/vhost (vhost URL-encoded); amqp:///vhost for the local broker' })
const Shovel = Type.Object({ name: Type.String(), vhost: Type.String(), state: Type.String() })

/**
 * The catalog's operator actions (REGARDS rs-fem / rs-ingest admin endpoints): retries, forced deletions,
 * dissemination on demand, AIP records, tenant settings, and the shovels between instances.
 */
export async function catalogRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'catalog')

  route.post(
    '/catalog/requests/retry',
    {
      access: 'retry',
      summary: 'Retry catalog requests in error: the listed ones, or every one of the tenant (optionally of one type)',
      body: strict({ requestIds: Type.Optional(Type.Array(RequestId, { minItems: 1, maxItems: 10_000 })), type: Type.Optional(RequestType) }, { description: 'no body: every request in error of the tenant' }),
      bodyOptional: true,
      response: { 200: Retried },
      problems: [400],
    },
    async (req) => catalogRetry(ctx, req.principal, req.body),
  )

  route.post(
    '/catalog/requests/:requestId/retry',
    {
      access: 'retry',
      summary: 'Retry one catalog request in error (409 when it is not in error)',
      params: strict({ requestId: RequestId }),
      response: { 200: Retried },
      problems: [400, 404, 409],
    },
    async (req) => catalogRetry(ctx, req.principal, { requestId: req.params.requestId }),
  )

  route.post(
    '/products/:urn/force-deletion',
    {
      access: 'admin',
      summary: 'Delete a product whose deletion waits for a blocking dissemination, ignoring it (409 when none waits)',
      params: UrnParams,
      response: { 200: Forced },
      problems: [400, 404, 409],
    },
    async (req) => catalogForceDeletion(ctx, req.principal, { urns: [req.params.urn] }),
  )

  route.post(
    '/products/:urn/disseminate',
    {
      access: 'admin',
      summary: 'Ask the notifier to disseminate a product: by the rules, or to the given recipients',
      params: UrnParams,
      body: strict(
        {
          recipients: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 1000, description: 'notifier recipient business ids (direct mode); absent: the rules decide' })),
          owner: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'request owner; default the token subject' })),
          priority: Type.Optional(Type.Union(Object.keys(PRIORITY_LEVELS).map((p) => Type.Literal(p)), { description: 'default HIGH' })),
        },
        { description: 'no body: by the rules, HIGH priority' },
      ),
      bodyOptional: true,
      response: { 200: DisseminationResults },
      problems: [400, 404],
    },
    async (req) => {
      const { recipients, owner, priority } = req.body
      return catalogDisseminate(ctx, req.principal, { urns: [req.params.urn], recipients, owner, priority: priority as keyof typeof PRIORITY_LEVELS | undefined })
    },
  )

  route.post(
    '/catalog/aips',
    {
      access: 'admin',
      summary: 'Record AIPs (one result per entry: CREATED, or ERROR with the reason)',
      body: Type.Array(
        strict({
          providerId: Type.String({ minLength: 1, maxLength: 255 }),
          urn: Type.Optional(Type.String({ maxLength: 255, description: 'URN:AIP:…; generated from the provider id when absent' })),
          originUrn: Type.Optional(Type.String({ maxLength: 255, description: 'the product URN in the catalog it came from' })),
          sessionOwner: Type.Optional(Type.String({ maxLength: 255 })),
          session: Type.Optional(Type.String({ maxLength: 255 })),
          aip: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the AIP document, notified as `aip`' })),
        }),
        { minItems: 1, maxItems: CREATE_AIPS_MAX },
      ),
      response: {
        200: Type.Object({
          results: Type.Array(Type.Object({ providerId: Type.String(), urn: Type.Optional(Type.String()), status: Type.Union([Type.Literal('CREATED'), Type.Literal('ERROR')]), error: Type.Optional(Type.String()) })),
        }),
      },
      problems: [400],
    },
    async (req) => catalogCreateAips(ctx, req.principal, { aips: req.body }),
  )

  route.put(
    '/catalog/settings/:name',
    {
      access: 'admin',
      summary: `Set a catalog tenant setting (${Object.keys(CATALOG_SETTINGS).join(', ')}); answers them all`,
      params: strict({ name: Type.String({ pattern: '^[a-z_]{1,64}$' }) }),
      body: strict({ value: Type.Unknown({ description: 'the JSON value, e.g. false' }) }, { description: '{"value": false}' }),
      response: { 200: Settings },
      problems: [400, 404],
    },
    async (req) => catalogSetting(ctx, req.principal, { name: req.params.name, value: req.body.value }),
  )

  route.get('/catalog/shovels', { access: 'admin', summary: "The broker's shovels and their state (rabbitmqctl shovel_status)", response: { 200: Type.Array(Shovel) }, problems: [503] }, async (req) =>
    catalogShovelStatus(ctx, req.principal),
  )

  route.post(
    '/catalog/shovels',
    {
      access: 'admin',
      summary: 'Define a RabbitMQ dynamic shovel between two instances (declares its source queue first) and wait until it runs',
      body: strict({
        name: Name,
        vhost: Type.String({ minLength: 1, maxLength: 255, description: 'the vhost the shovel is defined in' }),
        srcUri: AmqpUri,
        srcQueue: Name,
        destUri: AmqpUri,
        destExchange: Name,
        destExchangeKey: Type.Optional(Type.String({ maxLength: 255 })),
        ackMode: Type.Optional(Type.Union([Type.Literal('on-confirm'), Type.Literal('on-publish'), Type.Literal('no-ack')])),
        declareSource: Type.Optional(Type.Boolean({ description: "default true: declare the source queue with REGARDS' arguments" })),
        deadLetterRoutingKey: Type.Optional(Type.String({ maxLength: 255, description: 'of the declared source queue (default regards.DLQ)' })),
      }),
      response: { 201: Shovel },
      problems: [400, 503],
    },
    async (req, reply) => reply.code(201).send(await catalogShovelSet(ctx, req.principal, req.body)),
  )

  route.delete(
    '/catalog/shovels/:name',
    {
      access: 'admin',
      summary: 'Remove a shovel',
      params: strict({ name: Name }),
      querystring: strict({ vhost: Type.String({ minLength: 1, maxLength: 255 }) }),
      response: { 204: Type.Null() },
      problems: [400, 404, 503],
    },
    async (req, reply) => {
      await catalogShovelClear(ctx, req.principal, { vhost: req.query.vhost, name: req.params.name })
      return reply.code(204).send(null)
    },
  )
}
