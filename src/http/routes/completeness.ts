import { Type } from 'typebox'
import { COMPLETENESS_DAYS, completenessShow } from '../../ops/completeness.ts'
import { completenessGapShow } from '../../ops/completeness-gap.ts'
import { routesOf } from '../endpoint.ts'
import { BusinessId, DateTime, iso, Nullable, strict, type App, type RouteDeps } from '../schemas.ts'

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a UTC day, YYYY-MM-DD' })

const Recipient = {
  businessId: Type.String(),
  label: Nullable(Type.String({ description: 'the recipientLabel acknowledgements are recorded under' })),
  ackRequired: Type.Boolean(),
}

const Completeness = Type.Object({
  days: Type.Array(Day, { description: 'oldest first, today last' }),
  recipients: Type.Array(
    Type.Object({
      ...Recipient,
      cells: Type.Array(
        Type.Object({
          day: Day,
          matched: Type.Integer({ description: 'deliveries of the requests received that day' }),
          delivered: Type.Integer(),
          acknowledged: Nullable(Type.Integer({ description: 'delivered and acknowledged; null when the recipient requires no acknowledgement' })),
        }),
        { description: 'one per day, in the order of days' },
      ),
    }),
  ),
})

const Gap = Type.Object({
  recipient: Type.Object(Recipient),
  day: Day,
  items: Type.Array(
    Type.Object({
      requestId: Type.String(),
      payloadId: Nullable(Type.String({ description: 'the payload id' })),
      urn: Nullable(Type.String()),
      receivedAt: DateTime,
      state: Type.String({ description: 'PENDING, SENDING, ERROR: not delivered; SUCCESS: delivered, not acknowledged' }),
      live: Type.Boolean({ description: 'false: a completed request (nothing to retry)' }),
    }),
  ),
  more: Type.Boolean({ description: 'more products are missing than listed (1000 at most)' }),
  retryable: Type.Array(Type.String(), { description: 'request ids to retry for this recipient: POST /requests/retry {requestIds, recipient}' }),
})

/** The completeness screen: recipient × day counts, and what one cell misses. */
export async function completenessRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'completeness')
  route.get(
    '/completeness',
    {
      access: 'read',
      summary: 'Per recipient and UTC day of reception: deliveries matched, delivered and acknowledged',
      querystring: strict({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: COMPLETENESS_DAYS.max, description: `UTC days, today included (default ${COMPLETENESS_DAYS.default})` })) }),
      response: { 200: Completeness },
      problems: [400],
    },
    async (req) => completenessShow(ctx, req.principal, req.query),
  )
  route.get(
    '/completeness/gap',
    {
      access: 'read',
      summary: 'The products matched for a recipient on a UTC day but not delivered, or not acknowledged when it requires it',
      querystring: strict({ recipient: BusinessId, day: Day }),
      response: { 200: Gap },
      problems: [400, 404],
    },
    async (req) => {
      const gap = await completenessGapShow(ctx, req.principal, req.query)
      return { ...gap, items: gap.items.map((i) => ({ ...i, receivedAt: iso(i.receivedAt)! })) }
    },
  )
}
