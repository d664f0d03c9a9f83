import { Type } from 'typebox'
import { deadLettersDiscard } from '../../ops/dead-letters-discard.ts'
import { deadLettersList, type DeadLetterSummary } from '../../ops/dead-letters-list.ts'
import { deadLettersReplay } from '../../ops/dead-letters-replay.ts'
import { deadLettersShow } from '../../ops/dead-letters-show.ts'
import { routesOf } from '../endpoint.ts'
import { listingOf, pageView } from '../pagination.ts'
import { DateTime, iso, Nullable, strict, type App, type RouteDeps } from '../schemas.ts'

const Summary = Type.Object({
  id: Type.Integer(),
  queue: Type.String({ description: 'the consumer queue the message failed in' }),
  dlq: Type.String(),
  exchange: Type.String({ description: 'where the message had been published' }),
  routingKey: Type.String(),
  reason: Nullable(Type.String()),
  requestId: Nullable(Type.String({ description: 'its regards.request.id header' })),
  deadLetteredAt: Nullable(DateTime),
  collectedAt: DateTime,
  size: Type.Integer({ description: 'body size in bytes' }),
})

const Message = Type.Object({
  ...Summary.properties,
  headers: Type.Record(Type.String(), Type.Unknown()),
  properties: Type.Record(Type.String(), Type.Unknown()),
  body: Type.String(),
  bodyEncoding: Type.Union([Type.Literal('utf8'), Type.Literal('base64')]),
})

const IdParams = strict({ id: Type.Integer({ minimum: 1 }) })
const Target = Type.Union([Type.Literal('queue'), Type.Literal('exchange')], {
  description: 'queue (default): back to the queue it failed in, only; exchange: to its original exchange, every bound queue receives it again',
})
const Selection = {
  ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 10_000 })),
  all: Type.Optional(Type.Literal(true)),
  queue: Type.Optional(Type.String({ maxLength: 255, description: 'with all=true: only the messages of this queue' })),
}

const summary = <M extends DeadLetterSummary>(m: M) => ({ ...m, deadLetteredAt: iso(m.deadLetteredAt), collectedAt: iso(m.collectedAt)! })

const ReplayOutcome = Type.Object({ replayed: Type.Array(Type.Integer()), missing: Type.Array(Type.Integer()) })

/** Messages that Herald's consumers dead-lettered, collected from the `<queue>.DLQ` queues. */
export async function deadLettersRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'dead letters')

  route.get('/dead-letters', { access: 'read', summary: 'List dead-lettered messages, oldest first', ...listingOf(Summary, { queue: Type.Optional(Type.String({ maxLength: 255 })) }) }, async (req) =>
    pageView(await deadLettersList(ctx, req.principal, req.query), summary),
  )

  route.get(
    '/dead-letters/:id',
    { access: 'read', summary: 'One dead-lettered message: headers, properties and body', params: IdParams, response: { 200: Message }, problems: [400, 404] },
    async (req) => summary(await deadLettersShow(ctx, req.principal, req.params)),
  )

  route.post(
    '/dead-letters/replay',
    {
      access: 'retry',
      summary: 'Re-inject messages with their original headers; each is removed once the broker confirmed it',
      description: 'Into the queue they failed in (the default) a retry, EXPLOIT may; to their original exchange (every bound queue) ADMIN only.',
      body: strict({ ...Selection, target: Type.Optional(Target) }),
      response: { 200: ReplayOutcome },
      problems: [400, 403, 503],
    },
    async (req) => deadLettersReplay(ctx, req.principal, req.body),
  )

  route.post(
    '/dead-letters/:id/replay',
    {
      access: 'retry',
      summary: 'Re-inject one message',
      params: IdParams,
      querystring: strict({ target: Type.Optional(Target) }),
      response: { 200: ReplayOutcome },
      problems: [400, 403, 404, 503],
    },
    async (req) => deadLettersReplay(ctx, req.principal, { id: req.params.id, target: req.query.target }),
  )

  route.post(
    '/dead-letters/discard',
    { access: 'admin', summary: 'Discard messages for good', body: strict(Selection), response: { 200: Type.Object({ discarded: Type.Integer() }) }, problems: [400] },
    async (req) => deadLettersDiscard(ctx, req.principal, req.body),
  )

  route.delete(
    '/dead-letters/:id',
    { access: 'admin', summary: 'Discard one message for good', params: IdParams, response: { 204: Type.Null() }, problems: [400, 404] },
    async (req, reply) => {
      await deadLettersDiscard(ctx, req.principal, { id: req.params.id })
      return reply.code(204).send(null)
    },
  )
}
