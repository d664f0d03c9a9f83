import { Type } from 'typebox'
import { overviewShow } from '../../ops/overview.ts'
import { routesOf } from '../endpoint.ts'
import { DateTime, iso, Nullable, type App, type RouteDeps } from '../schemas.ts'

const Activity = Type.Object({
  delivered: Type.Integer({ description: 'deliveries sent' }),
  failed: Type.Integer({ description: 'attempts that failed (retried later or given up)' }),
})

const Overview = Type.Object({
  at: { ...DateTime, description: 'the instant every window ends at' },
  recipients: Type.Array(
    Type.Object({
      businessId: Type.String(),
      label: Type.String(),
      pluginId: Type.String(),
      active: Type.Boolean(),
      backlog: Type.Integer({ description: 'deliveries waiting (PENDING, retries included)' }),
      sending: Type.Integer(),
      errors: Type.Integer({ description: 'deliveries in ERROR, waiting for a manual retry' }),
      oldestWaitingSeconds: Type.Integer({ description: 'age of the oldest waiting delivery (0: none waits)' }),
      parked: Type.Boolean(),
      parkedReason: Nullable(Type.String()),
      lastHour: Activity,
      hourly: Type.Array(Activity, { description: 'the last 24 hours, oldest first; the last one is the last hour' }),
    }),
  ),
  intake: Type.Object({
    lastHour: Type.Integer({ description: 'requests received in the last hour' }),
    perMinute: Type.Array(Type.Integer(), { description: 'requests received per minute over the last hour, oldest first' }),
  }),
  deadLetters: Type.Integer({ description: 'dead-lettered messages of the tenant' }),
})

/** The overview screen's figures: what each recipient is doing, the intake rate, the dead letters. */
export async function overviewRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'overview')
  route.get(
    '/overview',
    {
      access: 'read',
      summary: 'Per recipient backlog, oldest waiting delivery, parked state and the last 24 h of deliveries; intake rate; dead letters',
      response: { 200: Overview },
    },
    async (req) => {
      const overview = await overviewShow(ctx, req.principal)
      return { ...overview, at: iso(overview.at)! }
    },
  )
}
