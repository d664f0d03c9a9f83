import { Type } from 'typebox'
import { REQUEST_TYPES } from '../../catalog/types.ts'
import { catalogCounters } from '../../ops/catalog-counters.ts'
import { catalogProduct } from '../../ops/catalog-product.ts'
import { catalogProducts } from '../../ops/catalog-products.ts'
import { CATALOG_REQUEST_STATES, catalogRequests } from '../../ops/catalog-requests.ts'
import { routesOf } from '../endpoint.ts'
import { listingOf } from '../pagination.ts'
import { RequestId, strict, type App, type RouteDeps } from '../schemas.ts'

const Status = Type.Union([Type.Literal('NONE'), Type.Literal('PENDING'), Type.Literal('DONE')])
export const Urn = Type.String({ pattern: '^[A-Za-z0-9:._-]{1,255}$', description: 'REGARDS URN, e.g. URN:FEATURE:DATA:project1:<uuid>:V1' })
/** `/products/:urn` and the actions under it. */
export const UrnParams = strict({ urn: Urn })

const DisseminationInfo = Type.Object({
  label: Type.String({ description: 'recipient label' }),
  requestDate: Type.String({ format: 'date-time' }),
  ackDate: Type.Optional(Type.String({ format: 'date-time' })),
  blocking: Type.Boolean(),
})

const Product = Type.Object({
  urn: Type.String(),
  kind: Type.Union([Type.Literal('FEATURE'), Type.Literal('AIP')]),
  providerId: Type.String(),
  version: Type.Integer(),
  last: Type.Boolean(),
  model: Type.Optional(Type.String()),
  sessionOwner: Type.Optional(Type.String()),
  session: Type.Optional(Type.String()),
  originUrn: Type.Optional(Type.String()),
  creationDate: Type.String({ format: 'date-time' }),
  lastUpdate: Type.String({ format: 'date-time' }),
  disseminationStatus: Status,
  disseminationPending: Type.Boolean(),
  disseminationsInfo: Type.Array(DisseminationInfo),
  content: Type.Optional(Type.Unknown()),
})

const CatalogRequest = Type.Object({
  requestId: Type.String(),
  requestOwner: Type.Optional(Type.String()),
  type: Type.String({ description: 'CREATION, PATCH, DELETION, NOTIFICATION, AIP_DISSEMINATION' }),
  state: Type.String(),
  step: Type.Optional(Type.String()),
  priority: Type.String(),
  requestDate: Type.String({ format: 'date-time' }),
  registrationDate: Type.String({ format: 'date-time' }),
  urn: Type.Optional(Type.String()),
  providerId: Type.Optional(Type.String()),
  recipients: Type.Optional(Type.Unknown()),
  errors: Type.Optional(Type.Array(Type.String())),
  lastUpdate: Type.Optional(Type.String({ format: 'date-time' })),
  completedAt: Type.Optional(Type.String({ format: 'date-time' })),
})

/** Catalog products with their dissemination status per recipient, catalog requests and counters (reads). */
export async function productsRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'catalog')

  route.get(
    '/products',
    {
      access: 'read',
      summary: 'List products with their dissemination infos, by id',
      description: 'status without label: the product\'s status; with label: that recipient\'s (NONE when never sent to it).',
      ...listingOf(Product, {
        status: Type.Optional(Status),
        label: Type.Optional(Type.String({ maxLength: 255, description: 'recipient label' })),
        urn: Type.Optional(Urn),
        kind: Type.Optional(Type.Union([Type.Literal('FEATURE'), Type.Literal('AIP')])),
        providerId: Type.Optional(Type.String({ maxLength: 255 })),
        session: Type.Optional(Type.String({ maxLength: 255 })),
        sessionOwner: Type.Optional(Type.String({ maxLength: 255 })),
        withContent: Type.Optional(Type.Boolean({ description: 'include the GeoJSON feature or AIP document' })),
      }),
    },
    async (req) => catalogProducts(ctx, req.principal, req.query),
  )

  route.get('/products/:urn', { access: 'read', summary: 'One product, with its content and dissemination infos', params: UrnParams, response: { 200: Product }, problems: [400, 404] }, async (req) =>
    catalogProduct(ctx, req.principal, { urn: req.params.urn }),
  )

  route.get(
    '/catalog/requests',
    {
      access: 'read',
      summary: 'List catalog requests (feature creation, patch, deletion, notification, AIP dissemination)',
      ...listingOf(CatalogRequest, {
        state: Type.Optional(Type.Union(CATALOG_REQUEST_STATES.map((s) => Type.Literal(s)))),
        type: Type.Optional(Type.Union(REQUEST_TYPES.map((t) => Type.Literal(t)))),
        step: Type.Optional(Type.String({ maxLength: 64 })),
        urn: Type.Optional(Urn),
        requestId: Type.Optional(RequestId),
      }),
    },
    async (req) => catalogRequests(ctx, req.principal, req.query),
  )

  route.get(
    '/catalog/counters',
    { access: 'read', summary: 'Catalog anomaly counters (acks for unknown URNs or labels, duplicates …)', response: { 200: Type.Record(Type.String(), Type.Integer()) } },
    async (req) => catalogCounters(ctx, req.principal),
  )
}
