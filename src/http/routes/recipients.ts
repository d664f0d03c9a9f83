import { Type } from 'typebox'
import { findPlugin, savePlugin, setPluginActive, type PluginRow } from '../../notifier/plugin-configurations.ts'
import { deleteRecipient } from '../../notifier/delete-recipient.ts'
import { listRecipients, recipientInfo, recipientStates, type RecipientState } from '../../notifier/recipient-listing.ts'
import { parkRecipient, unparkRecipient } from '../../notifier/recipient-state.ts'
import { testRecipient } from '../../senders/test-recipient.ts'
import { senderContext } from '../../senders/sender-context.ts'
import { ERR_NOT_FOUND } from '../../errors.ts'
import { PageQuery, pageOf } from '../pagination.ts'
import { decodeCursor, PAGE_LIMIT_DEFAULT, toPage } from '../../ops/page.ts'
import { maskSecrets } from '../../secrets/mask-secrets.ts'
import { BusinessId, BusinessIdParams, DateTime, iso, Nullable, PluginFields, PluginParameterSchema, problems, strict, withValues, type App, type RouteDeps } from '../schemas.ts'

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
  businessId: Type.String(),
  pluginId: Type.String(),
  label: Type.String(),
  version: Type.String(),
  priorityOrder: Type.Integer(),
  active: Type.Boolean(),
  recipientLabel: Nullable(Type.String()),
  description: Type.String(),
  directNotificationEnabled: Type.Boolean(),
  ackRequired: Type.Boolean(),
  blockingRequired: Type.Boolean(),
  parameters: Type.Array(PluginParameterSchema),
  updatedAt: DateTime,
  state: StateSchema,
})

const JsonObject = Type.Record(Type.String(), Type.Unknown())
const RecipientTest = strict({ payload: Type.Optional(JsonObject), metadata: Type.Optional(JsonObject) }, { description: 'the product to send; no body: a built-in GeoJSON feature' })
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

const RecipientInput = strict({ businessId: Type.Optional(BusinessId), ...PluginFields })
const RecipientUpdate = strict(PluginFields)

export function recipientView(row: PluginRow, state: RecipientState) {
  const info = recipientInfo(row)
  return {
    businessId: row.business_id,
    pluginId: row.plugin_id,
    label: row.label,
    version: row.version,
    priorityOrder: row.priority_order,
    active: row.active,
    recipientLabel: info.recipientLabel ?? null,
    description: info.description,
    directNotificationEnabled: info.directNotificationEnabled,
    ackRequired: info.ackRequired,
    blockingRequired: info.blockingRequired,
    parameters: maskSecrets(row.plugin_id, row.parameters),
    updatedAt: iso(row.updated_at)!,
    state,
  }
}

/** Recipients (REGARDS recipient plugin configurations) with their live delivery state. */
export async function recipientsRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const withState = async (tenant: string, row: PluginRow) => recipientView(row, (await recipientStates(ctx.db, tenant, [row.id])).get(row.id)!)
  const changed = (tenant: string) => {
    ctx.configCache.invalidate(tenant)
    ctx.signals.deliveries()
  }
  const tags = ['recipients']

  app.get(
    '/recipients',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'List recipients (REGARDS GET /recipients), with their backlog and last error',
        querystring: strict({
          directNotificationEnabled: Type.Optional(Type.Boolean({ description: 'absent: all; true: direct-enabled only; false: the others' })),
          active: Type.Optional(Type.Boolean()),
          ...PageQuery,
        }),
        response: { 200: pageOf(Recipient), ...problems(400) },
      },
    },
    async (req) => {
      const { tenant } = req.principal
      const limit = req.query.limit ?? PAGE_LIMIT_DEFAULT
      const after = decodeCursor(req.query.cursor, ['string'])
      const all = await listRecipients(ctx.db, tenant, req.query)
      const rows = (after ? all.filter((r) => r.business_id > after[0]) : all).slice(0, limit + 1)
      const states = await recipientStates(ctx.db, tenant, rows.slice(0, limit).map((r) => r.id))
      return toPage(rows, limit, (r) => [r.business_id], (r) => recipientView(r, states.get(r.id)!))
    },
  )

  app.get(
    '/recipients/:businessId',
    { config: { access: 'read' }, schema: { tags, summary: 'One recipient', params: BusinessIdParams, response: { 200: Recipient, ...problems(400, 404) } } },
    async (req) => {
      const row = await findPlugin(ctx.db, req.principal.tenant, 'RECIPIENT', req.params.businessId)
      if (!row) throw ERR_NOT_FOUND(`no recipient ${req.params.businessId}`)
      return withState(req.principal.tenant, row)
    },
  )

  app.post(
    '/recipients',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'Create a recipient (businessId generated when absent)', body: RecipientInput, response: { 201: Recipient, ...problems(400, 409) } },
    },
    async (req, reply) => {
      const { tenant } = req.principal
      const { businessId, ...input } = req.body
      const row = await savePlugin(ctx.db, ctx.secrets, tenant, 'RECIPIENT', businessId, { ...input, parameters: withValues(input.parameters) }, 'create', undefined, ctx.config.crossTenantPublish)
      changed(tenant)
      return reply.code(201).send(await withState(tenant, row))
    },
  )

  app.put(
    '/recipients/:businessId',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Replace a recipient configuration; secrets sent back as ******** keep their stored value',
        params: BusinessIdParams,
        body: RecipientUpdate,
        response: { 200: Recipient, ...problems(400, 404) },
      },
    },
    async (req) => {
      const { tenant } = req.principal
      const row = await savePlugin(ctx.db, ctx.secrets, tenant, 'RECIPIENT', req.params.businessId, { ...req.body, parameters: withValues(req.body.parameters) }, 'update', undefined, ctx.config.crossTenantPublish)
      changed(tenant)
      return withState(tenant, row)
    },
  )

  for (const [action, active] of [['activate', true], ['deactivate', false]] as const) {
    app.post(
      `/recipients/:businessId/${action}`,
      {
        config: { access: 'admin' },
        schema: {
          tags,
          summary: active ? 'Activate a recipient: its waiting deliveries flow again' : 'Deactivate a recipient: its deliveries wait (nothing is dropped)',
          params: BusinessIdParams,
          response: { 200: Recipient, ...problems(400, 404) },
        },
      },
      async (req) => {
        const { tenant } = req.principal
        const row = await setPluginActive(ctx.db, tenant, 'RECIPIENT', req.params.businessId, active)
        changed(tenant)
        return withState(tenant, row)
      },
    )
  }

  for (const [action, park] of [['park', true], ['unpark', false]] as const) {
    app.post(
      `/recipients/:businessId/${action}`,
      {
        config: { access: 'admin' },
        schema: {
          tags,
          summary: park ? 'Park a recipient: its deliveries wait (nothing is dropped) until it is unparked' : 'Unpark a recipient: its backlog drains at once',
          params: BusinessIdParams,
          response: { 200: Recipient, ...problems(400, 404) },
        },
      },
      async (req) => {
        const { tenant } = req.principal
        const row = await findPlugin(ctx.db, tenant, 'RECIPIENT', req.params.businessId)
        if (!row) throw ERR_NOT_FOUND(`no recipient ${req.params.businessId}`)
        if (park) await parkRecipient(ctx.db, { id: row.id, tenant }, `parked by ${req.principal.subject ?? 'an operator'} (REST API)`)
        else if (await unparkRecipient(ctx.db, row.id)) ctx.signals.deliveries()
        return withState(tenant, row)
      },
    )
  }

  app.post(
    '/recipients/:businessId/test',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Send one sample product through the real sender (nothing is recorded) and answer the outcome',
        description:
          'The product is the body\'s payload and metadata, else a built-in GeoJSON feature. It is sent whatever the ' +
          'recipient\'s state (inactive, parked); no request, delivery or attempt is created. ADMIN only: it reaches the outside.',
        params: BusinessIdParams,
        body: RecipientTest,
        response: { 200: RecipientTestOutcome, ...problems(400, 404) },
      },
      // No body at all means the built-in sample: validated as an empty object.
      preValidation: async (req) => {
        req.body ??= {}
      },
    },
    async (req) =>
      testRecipient(ctx.db, ctx.secrets, senderContext(ctx, { tenant: req.principal.tenant, businessId: req.params.businessId }), req.principal.tenant, req.params.businessId, req.body),
  )

  app.delete(
    '/recipients/:businessId',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Delete a recipient; refused (409) while it has deliveries waiting or in progress, unless force=true drops them',
        params: BusinessIdParams,
        querystring: strict({ force: Type.Optional(Type.Boolean()) }),
        response: {
          200: Type.Object({ businessId: Type.String(), droppedDeliveries: Type.Integer(), completedRequests: Type.Integer() }),
          ...problems(400, 404, 409),
        },
      },
    },
    async (req) => {
      const { tenant } = req.principal
      const result = await deleteRecipient(ctx.db, tenant, req.params.businessId, req.query.force === true, (t) => ctx.configCache.get(t))
      ctx.configCache.invalidate(tenant)
      if (result.completed > 0) ctx.signals.outbox()
      return { businessId: req.params.businessId, droppedDeliveries: result.dropped, completedRequests: result.completed }
    },
  )
}
