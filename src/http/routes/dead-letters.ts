import { Type } from 'typebox'
import { replayDeadLetters, ReplayTargetError } from '../../dead-letters/replay.ts'
import { deleteDeadLetters, getDeadLetters, listDeadLetters, type DeadLetter } from '../../dead-letters/store.ts'
import { ERR_BROKER_UNAVAILABLE, ERR_NOT_FOUND, ERR_VALIDATION } from '../../errors.ts'
import { PageQuery, pageOf } from '../pagination.ts'
import { decodeCursor, PAGE_LIMIT_DEFAULT, toPage } from '../../ops/page.ts'
import { DateTime, iso, Nullable, problems, strict, type App, type RouteDeps } from '../schemas.ts'

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

const summary = ({ tenant: _tenant, ...m }: DeadLetter) => ({ ...m, deadLetteredAt: iso(m.deadLetteredAt), collectedAt: iso(m.collectedAt)! })

function decodeBody(body: Buffer): { body: string; bodyEncoding: 'utf8' | 'base64' } {
  const text = body.toString('utf8')
  return Buffer.from(text, 'utf8').equals(body) ? { body: text, bodyEncoding: 'utf8' } : { body: body.toString('base64'), bodyEncoding: 'base64' }
}

/** Messages that Herald's consumers dead-lettered, collected from the `<queue>.DLQ` queues. */
export async function deadLettersRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const tags = ['dead letters']
  const selection = (body: { ids?: number[]; all?: true }) => {
    if ((body.all === true) === (body.ids !== undefined)) throw ERR_VALIDATION('give either "all": true or "ids"')
    return body.ids
  }

  app.get(
    '/dead-letters',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'List dead-lettered messages, oldest first',
        querystring: strict({ queue: Type.Optional(Type.String({ maxLength: 255 })), ...PageQuery }),
        response: { 200: pageOf(Summary), ...problems(400) },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? PAGE_LIMIT_DEFAULT
      const after = decodeCursor(req.query.cursor, ['number'])
      const rows = await listDeadLetters(ctx.db, { tenant: req.principal.tenant, queue: req.query.queue }, limit, after?.[0])
      return toPage(rows, limit, (r) => [r.id], summary)
    },
  )

  app.get(
    '/dead-letters/:id',
    { config: { access: 'read' }, schema: { tags, summary: 'One dead-lettered message: headers, properties and body', params: IdParams, response: { 200: Message, ...problems(400, 404) } } },
    async (req) => {
      const [message] = await getDeadLetters(ctx.db, { tenant: req.principal.tenant }, [req.params.id])
      if (!message) throw ERR_NOT_FOUND(`no dead letter ${req.params.id}`)
      return { ...summary(message), headers: message.headers, properties: message.properties, ...decodeBody(message.body) }
    },
  )

  const replay = async (tenant: string, ids: number[] | undefined, queue: string | undefined, target: 'queue' | 'exchange' | undefined) => {
    try {
      return await replayDeadLetters(ctx.db, ctx.broker.connection, { tenant, queue }, ids, target)
    } catch (err) {
      if (err instanceof ReplayTargetError) throw ERR_VALIDATION(err.message)
      if (!ctx.broker.ready) throw ERR_BROKER_UNAVAILABLE(String((err as Error).message ?? err))
      throw err
    }
  }

  app.post(
    '/dead-letters/replay',
    {
      config: { access: 'retry' },
      schema: {
        tags,
        summary: 'Re-inject messages with their original headers; each is removed once the broker confirmed it',
        body: strict({ ...Selection, target: Type.Optional(Target) }),
        response: { 200: Type.Object({ replayed: Type.Array(Type.Integer()), missing: Type.Array(Type.Integer()) }), ...problems(400, 503) },
      },
    },
    async (req) => replay(req.principal.tenant, selection(req.body), req.body.queue, req.body.target),
  )

  app.post(
    '/dead-letters/:id/replay',
    {
      config: { access: 'retry' },
      schema: {
        tags,
        summary: 'Re-inject one message',
        params: IdParams,
        querystring: strict({ target: Type.Optional(Target) }),
        response: { 200: Type.Object({ replayed: Type.Array(Type.Integer()), missing: Type.Array(Type.Integer()) }), ...problems(400, 404, 503) },
      },
    },
    async (req) => {
      const outcome = await replay(req.principal.tenant, [req.params.id], undefined, req.query.target)
      if (outcome.replayed.length === 0) throw ERR_NOT_FOUND(`no dead letter ${req.params.id}`)
      return outcome
    },
  )

  app.post(
    '/dead-letters/discard',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'Discard messages for good', body: strict(Selection), response: { 200: Type.Object({ discarded: Type.Integer() }), ...problems(400) } },
    },
    async (req) => ({ discarded: await deleteDeadLetters(ctx.db, { tenant: req.principal.tenant, queue: req.body.queue }, selection(req.body)) }),
  )

  app.delete(
    '/dead-letters/:id',
    { config: { access: 'admin' }, schema: { tags, summary: 'Discard one message for good', params: IdParams, response: { 204: Type.Null(), ...problems(400, 404) } } },
    async (req, reply) => {
      const n = await deleteDeadLetters(ctx.db, { tenant: req.principal.tenant }, [req.params.id])
      if (n === 0) throw ERR_NOT_FOUND(`no dead letter ${req.params.id}`)
      return reply.code(204).send(null)
    },
  )
}
