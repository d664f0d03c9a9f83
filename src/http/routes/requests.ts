import { Type } from 'typebox'
import { REQUEST_STATES, type RequestDetail as Detail, type RequestSummary as Summary } from '../../notifier/request-listing.ts'
import { requestsDelete } from '../../ops/requests-delete.ts'
import { requestsList } from '../../ops/requests-list.ts'
import { requestsRetry } from '../../ops/requests-retry.ts'
import { requestsShow } from '../../ops/requests-show.ts'
import { routesOf } from '../endpoint.ts'
import { listingOf, pageView } from '../pagination.ts'
import { BusinessId, DateTime, iso, Nullable, PayloadField, RequestId, strict, type App, type RouteDeps } from '../schemas.ts'

const Counts = Type.Object({ pending: Type.Integer(), sending: Type.Integer(), success: Type.Integer(), error: Type.Integer() })
const State = Type.Union(REQUEST_STATES.map((s) => Type.Literal(s)), { description: 'SUCCESS: completed (from the history)' })

const RequestSummary = Type.Object({
  requestId: Type.String(),
  requestOwner: Nullable(Type.String()),
  requestDate: DateTime,
  receivedAt: DateTime,
  completedAt: Nullable(DateTime),
  mode: Type.String({ description: 'RULES (NotificationRequestEvent) or DIRECT (SpecificRecipientNotificationRequestEvent)' }),
  state: Type.String(),
  deliveries: Counts,
})

const Attempt = Type.Object({
  attempt: Type.Integer(),
  at: DateTime,
  outcome: Type.String({ description: 'PENDING: retried later; ERROR: the policy gave up' }),
  errorClass: Nullable(Type.String()),
  message: Nullable(Type.String()),
})

const RequestDetail = Type.Object({
  ...RequestSummary.properties,
  payload: Type.Unknown(),
  metadata: Type.Unknown(),
  ruleErrors: Type.Unknown(),
  deliveries: Type.Array(
    Type.Object({
      recipient: Type.String(),
      recipientLabel: Nullable(Type.String()),
      state: Type.String(),
      attempts: Type.Integer(),
      nextAttemptAt: Nullable(DateTime),
      sentAt: Nullable(DateTime),
      lastError: Nullable(Type.String()),
      updatedAt: DateTime,
      history: Type.Array(Attempt),
    }),
  ),
  recipients: Nullable(Type.Array(Type.Unknown(), { description: 'completed requests: recipients of the SUCCESS event' })),
})

const RetryResult = Type.Object({
  requests: Type.Integer({ description: 'requests put back in progress (each answered GRANTED)' }),
  deliveries: Type.Integer({ description: 'deliveries put back to PENDING' }),
  rematched: Type.Integer({ description: 'RULE_ERROR requests sent back to matching' }),
})

const RequestIdParams = strict({ requestId: RequestId })

const summaryView = (r: Omit<Summary, 'id'>) => ({
  requestId: r.requestId,
  requestOwner: r.requestOwner,
  requestDate: iso(r.requestDate)!,
  receivedAt: iso(r.receivedAt)!,
  completedAt: iso(r.completedAt),
  mode: r.mode,
  state: r.state,
  deliveries: r.deliveries,
})

const detailView = (r: Omit<Detail, 'id'>) => ({
  ...summaryView({ ...r, deliveries: { pending: 0, sending: 0, success: 0, error: 0 } }),
  deliveries: r.deliveries.map((d) => ({
    ...d,
    nextAttemptAt: iso(d.nextAttemptAt),
    sentAt: iso(d.sentAt),
    updatedAt: iso(d.updatedAt)!,
    history: d.history.map((a) => ({ ...a, at: iso(a.at)! })),
  })),
  payload: r.payload,
  metadata: r.metadata,
  ruleErrors: r.ruleErrors,
  recipients: r.recipients,
})

/** Notification requests: in progress, in error, and completed (history), with retry and delete. */
export async function requestsRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'requests')

  route.get(
    '/requests',
    {
      access: 'read',
      summary: 'List notification requests, newest first, live and completed',
      ...listingOf(RequestSummary, {
        state: Type.Optional(State),
        recipient: Type.Optional(BusinessId),
        requestId: Type.Optional(RequestId),
        owner: Type.Optional(Type.String({ maxLength: 128 })),
        from: Type.Optional({ ...DateTime, description: 'request date ≥ from' }),
        to: Type.Optional({ ...DateTime, description: 'request date < to' }),
        ...PayloadField,
      }),
    },
    async (req) => {
      const { from, to, ...q } = req.query
      return pageView(await requestsList(ctx, req.principal, { ...q, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined }), summaryView)
    },
  )

  route.get(
    '/requests/:requestId',
    {
      access: 'read',
      summary: 'One request with its deliveries and every failed attempt (the live one, else the latest completed one)',
      params: RequestIdParams,
      response: { 200: RequestDetail },
      problems: [400, 404],
    },
    async (req) => detailView(await requestsShow(ctx, req.principal, req.params)),
  )

  route.post(
    '/requests/retry',
    {
      access: 'retry',
      summary: 'Retry failures: every one of the tenant (all=true) or those of the listed requests, optionally of one recipient',
      body: strict({
        all: Type.Optional(Type.Literal(true)),
        requestIds: Type.Optional(Type.Array(RequestId, { minItems: 1, maxItems: 10_000 })),
        recipient: Type.Optional(BusinessId),
      }),
      response: { 200: RetryResult },
      problems: [400],
    },
    async (req) => requestsRetry(ctx, req.principal, req.body),
  )

  route.post(
    '/requests/:requestId/retry',
    {
      access: 'retry',
      summary: 'Retry the failures of one request, or of one of its recipients (?recipient=)',
      params: RequestIdParams,
      querystring: strict({ recipient: Type.Optional(BusinessId) }),
      response: { 200: RetryResult },
      problems: [400, 404],
    },
    async (req) => requestsRetry(ctx, req.principal, { requestId: req.params.requestId, recipient: req.query.recipient }),
  )

  route.delete(
    '/requests/:requestId',
    { access: 'admin', summary: 'Delete a request (live, with its deliveries, and its history)', params: RequestIdParams, response: { 204: Type.Null() }, problems: [400, 404] },
    async (req, reply) => {
      await requestsDelete(ctx, req.principal, req.params)
      return reply.code(204).send(null)
    },
  )
}
