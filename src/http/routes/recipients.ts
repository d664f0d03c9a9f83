import { Type } from 'typebox'
import type { RecipientView } from '../../notifier/recipient-listing.ts'
import { recipientsActivate } from '../../ops/recipients-activate.ts'
import { RecipientCreateBody, recipientsCreate } from '../../ops/recipients-create.ts'
import { recipientsDeactivate } from '../../ops/recipients-deactivate.ts'
import { recipientsDelete } from '../../ops/recipients-delete.ts'
import { recipientsList } from '../../ops/recipients-list.ts'
import { PARK_REASON_MAX, recipientsPark } from '../../ops/recipients-park.ts'
import { recipientsShow } from '../../ops/recipients-show.ts'
import { RecipientTestBody, recipientsTest } from '../../ops/recipients-test.ts'
import { recipientsUnpark } from '../../ops/recipients-unpark.ts'
import { RecipientUpdateBody, recipientsUpdate } from '../../ops/recipients-update.ts'
import { routesOf } from '../endpoint.ts'
import { listingOf, pageView } from '../pagination.ts'
import { BusinessIdParams, DateTime, iso, Nullable, PluginConfigurationMembers, PluginParameterSchema, strict, type App, type RouteDeps } from '../schemas.ts'

const StateSchema = Type.Object({
  backlog: Type.Integer({ description: 'deliveries waiting (PENDING, retries included)' }),
  sending: Type.Integer({ description: 'deliveries being sent now' }),
  errors: Type.Integer({ description: 'deliveries in ERROR, waiting for a manual retry' }),
  oldestWaitingSeconds: Type.Number({ description: 'age of the request date of the oldest waiting delivery' }),
  lastError: Nullable(Type.Object({ message: Type.String(), at: DateTime })),
  parked: Type.Boolean({ description: 'deliveries are held (after consecutive failures, or by an operator); nothing is dropped' }),
  parkedReason: Nullable(Type.String()),
})

const Recipient = Type.Object({
  ...PluginConfigurationMembers,
  recipientLabel: Nullable(Type.String()),
  description: Type.String(),
  directNotificationEnabled: Type.Boolean(),
  ackRequired: Type.Boolean(),
  blockingRequired: Type.Boolean(),
  parameters: Type.Array(PluginParameterSchema),
  updatedAt: DateTime,
  state: StateSchema,
})

const RecipientTestOutcome = Type.Object({
  businessId: Type.String(),
  pluginId: Type.String(),
  delivered: Type.Boolean(),
  latencyMs: Type.Number({ description: 'from handing the product to the sender to its answer' }),
  answer: Type.Optional(Type.String({ description: "the receiver's status, the SMTP server's reply, the broker's confirm" })),
  errorClass: Type.Optional(Type.String({ description: 'as in delivery attempts: HTTP_503, SMTP_535, AMQP_UNROUTABLE, CONFIGURATION …' })),
  message: Type.Optional(Type.String()),
  permanent: Type.Optional(Type.Boolean({ description: 'a failure the delivery policy would not retry' })),
  sample: Type.Union([Type.Literal('given'), Type.Literal('built-in')]),
})

const ParkBody = strict({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: PARK_REASON_MAX, description: 'shown with its state; default: who parked it' })) })

const view = (r: RecipientView) => ({ ...r, updatedAt: iso(r.updatedAt)! })

/** Recipients (REGARDS recipient plugin configurations) with their live delivery state: the operations of src/ops/recipients-*.ts. */
export async function recipientsRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'recipients')

  route.get(
    '/recipients',
    {
      access: 'read',
      summary: 'List recipients (REGARDS GET /recipients), with their backlog and last error',
      ...listingOf(Recipient, {
        directNotificationEnabled: Type.Optional(Type.Boolean({ description: 'absent: all; true: direct-enabled only; false: the others' })),
        active: Type.Optional(Type.Boolean()),
      }),
    },
    async (req) => pageView(await recipientsList(ctx, req.principal, req.query), view),
  )

  route.get('/recipients/:businessId', { access: 'read', summary: 'One recipient', params: BusinessIdParams, response: { 200: Recipient }, problems: [400, 404] }, async (req) =>
    view(await recipientsShow(ctx, req.principal, req.params)),
  )

  route.post(
    '/recipients',
    { access: 'admin', summary: 'Create a recipient (businessId generated when absent)', body: RecipientCreateBody, response: { 201: Recipient }, problems: [400, 409] },
    async (req, reply) => reply.code(201).send(view(await recipientsCreate(ctx, req.principal, { body: req.body }))),
  )

  route.put(
    '/recipients/:businessId',
    {
      access: 'admin',
      summary: 'Replace a recipient configuration; secrets sent back as ******** keep their stored value',
      params: BusinessIdParams,
      body: RecipientUpdateBody,
      response: { 200: Recipient },
      problems: [400, 404],
    },
    async (req) => view(await recipientsUpdate(ctx, req.principal, { businessId: req.params.businessId, body: req.body })),
  )

  for (const [action, operation, summary] of [
    ['activate', recipientsActivate, 'Activate a recipient: its waiting deliveries flow again'],
    ['deactivate', recipientsDeactivate, 'Deactivate a recipient: its deliveries wait (nothing is dropped)'],
    ['unpark', recipientsUnpark, 'Unpark a recipient: its backlog drains at once'],
  ] as const) {
    route.post(`/recipients/:businessId/${action}`, { access: 'admin', summary, params: BusinessIdParams, response: { 200: Recipient }, problems: [400, 404] }, async (req) =>
      view(await operation(ctx, req.principal, req.params)),
    )
  }

  route.post(
    '/recipients/:businessId/park',
    {
      access: 'admin',
      summary: 'Park a recipient: its deliveries wait (nothing is dropped) until it is unparked',
      params: BusinessIdParams,
      body: ParkBody,
      bodyOptional: true,
      response: { 200: Recipient },
      problems: [400, 404],
    },
    async (req) => view(await recipientsPark(ctx, req.principal, { businessId: req.params.businessId, reason: req.body.reason })),
  )

  route.post(
    '/recipients/:businessId/test',
    {
      access: 'admin',
      summary: 'Send one sample product through the real sender (nothing is recorded) and answer the outcome',
      description:
        'The product is the body\'s payload and metadata, else a built-in GeoJSON feature. It is sent whatever the ' +
        'recipient\'s state (inactive, parked); no request, delivery or attempt is created. ADMIN only: it reaches the outside.',
      params: BusinessIdParams,
      body: RecipientTestBody,
      bodyOptional: true,
      response: { 200: RecipientTestOutcome },
      problems: [400, 404],
    },
    async (req) => recipientsTest(ctx, req.principal, { businessId: req.params.businessId, body: req.body }),
  )

  route.delete(
    '/recipients/:businessId',
    {
      access: 'admin',
      summary: 'Delete a recipient; refused (409) while it has deliveries waiting or in progress, unless force=true drops them',
      params: BusinessIdParams,
      querystring: strict({ force: Type.Optional(Type.Boolean()) }),
      response: { 200: Type.Object({ businessId: Type.String(), droppedDeliveries: Type.Integer(), completedRequests: Type.Integer() }) },
      problems: [400, 404, 409],
    },
    async (req) => recipientsDelete(ctx, req.principal, { businessId: req.params.businessId, force: req.query.force }),
  )
}
