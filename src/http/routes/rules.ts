import { Type } from 'typebox'
import { compileRuleInLine, RuleConfigError, type InLineRule } from '../../rules/compile-rule.ts'
import { RULE_DEADLINE_MS } from '../../rules/linear-regex.ts'
import { matchSamples } from '../../rules/rule-workers.ts'
import { deleteRule, findPlugin, listPlugins, ruleRecipients, savePlugin, type PluginRow } from '../../notifier/plugin-configurations.ts'
import { ERR_INVALID_RULE, ERR_NOT_FOUND, ERR_RULE_TOO_SLOW } from '../../errors.ts'
import { PageQuery, pageOf } from '../pagination.ts'
import { decodeCursor, PAGE_LIMIT_DEFAULT, toPage } from '../../ops/page.ts'
import { maskSecrets } from '../../secrets/mask-secrets.ts'
import { BusinessId, BusinessIdParams, DateTime, iso, PluginFields, PluginParameterSchema, problems, strict, withValues, type App, type RouteDeps } from '../schemas.ts'

const Rule = Type.Object({
  businessId: Type.String(),
  pluginId: Type.String(),
  label: Type.String(),
  version: Type.String(),
  priorityOrder: Type.Integer(),
  active: Type.Boolean(),
  parameters: Type.Array(PluginParameterSchema),
  recipients: Type.Array(Type.String(), { description: 'businessIds of the recipients a matching product goes to' }),
  updatedAt: DateTime,
})

const Recipients = Type.Array(BusinessId, { maxItems: 1000, description: 'businessIds of existing recipients' })
const RuleInput = strict({ businessId: Type.Optional(BusinessId), ...PluginFields, recipients: Recipients })
const RuleUpdate = strict({ ...PluginFields, recipients: Recipients })

const JsonObject = Type.Record(Type.String(), Type.Unknown())
const RuleTest = strict({
  rule: strict({
    pluginId: Type.String({ maxLength: 255 }),
    businessId: Type.Optional(Type.String({ maxLength: 36 })),
    label: Type.Optional(Type.String({ maxLength: 255 })),
    parameters: Type.Array(PluginParameterSchema, { maxItems: 50 }),
  }),
  metadata: Type.Optional(JsonObject),
  payload: Type.Optional(JsonObject),
})
const RuleTestResult = Type.Object({
  match: Type.Optional(Type.Boolean()),
  explain: Type.Optional(Type.String({ description: 'why it does not match' })),
  error: Type.Optional(Type.String({ description: 'why REGARDS would fail matching this product' })),
  warnings: Type.Array(Type.String()),
})

const ruleView = (row: PluginRow, recipients: string[]) => ({
  businessId: row.business_id,
  pluginId: row.plugin_id,
  label: row.label,
  version: row.version,
  priorityOrder: row.priority_order,
  active: row.active,
  parameters: maskSecrets(row.plugin_id, row.parameters),
  recipients,
  updatedAt: iso(row.updated_at)!,
})

/** Rules: a rule matcher (DefaultRuleMatcher, LuceneRuleMatcher) and the recipients it sends to. */
export async function rulesRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const tags = ['rules']
  const view = async (tenant: string, row: PluginRow) => ruleView(row, (await ruleRecipients(ctx.db, tenant, [row.id])).get(row.id) ?? [])

  app.get(
    '/rules',
    { config: { access: 'read' }, schema: { tags, summary: 'List rules with their recipients', querystring: strict(PageQuery), response: { 200: pageOf(Rule), ...problems(400) } } },
    async (req) => {
      const { tenant } = req.principal
      const limit = req.query.limit ?? PAGE_LIMIT_DEFAULT
      const after = decodeCursor(req.query.cursor, ['string'])
      const all = await listPlugins(ctx.db, tenant, 'RULE')
      const rows = (after ? all.filter((r) => r.business_id > after[0]) : all).slice(0, limit + 1)
      const recipients = await ruleRecipients(ctx.db, tenant, rows.map((r) => r.id))
      return toPage(rows, limit, (r) => [r.business_id], (r) => ruleView(r, recipients.get(r.id) ?? []))
    },
  )

  app.get(
    '/rules/:businessId',
    { config: { access: 'read' }, schema: { tags, summary: 'One rule', params: BusinessIdParams, response: { 200: Rule, ...problems(400, 404) } } },
    async (req) => {
      const row = await findPlugin(ctx.db, req.principal.tenant, 'RULE', req.params.businessId)
      if (!row) throw ERR_NOT_FOUND(`no rule ${req.params.businessId}`)
      return view(req.principal.tenant, row)
    },
  )

  app.post(
    '/rules',
    { config: { access: 'admin' }, schema: { tags, summary: 'Create a rule and associate its recipients', body: RuleInput, response: { 201: Rule, ...problems(400, 409) } } },
    async (req, reply) => {
      const { tenant } = req.principal
      const { businessId, recipients, ...input } = req.body
      const row = await savePlugin(ctx.db, ctx.secrets, tenant, 'RULE', businessId, { ...input, parameters: withValues(input.parameters) }, 'create', recipients)
      ctx.configCache.invalidate(tenant)
      return reply.code(201).send(await view(tenant, row))
    },
  )

  app.put(
    '/rules/:businessId',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'Replace a rule and its recipients', params: BusinessIdParams, body: RuleUpdate, response: { 200: Rule, ...problems(400, 404) } },
    },
    async (req) => {
      const { tenant } = req.principal
      const { recipients, ...input } = req.body
      const row = await savePlugin(ctx.db, ctx.secrets, tenant, 'RULE', req.params.businessId, { ...input, parameters: withValues(input.parameters) }, 'update', recipients)
      ctx.configCache.invalidate(tenant)
      return view(tenant, row)
    },
  )

  app.delete(
    '/rules/:businessId',
    { config: { access: 'admin' }, schema: { tags, summary: 'Delete a rule', params: BusinessIdParams, response: { 204: Type.Null(), ...problems(400, 404) } } },
    async (req, reply) => {
      await deleteRule(ctx.db, req.principal.tenant, req.params.businessId)
      ctx.configCache.invalidate(req.principal.tenant)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/rules/test',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Evaluate a rule against sample metadata and payload (nothing is stored)',
        description:
          'A rule that cannot be compiled (syntax, unsafe regular expression …) is answered 400 HERALD_ERR_INVALID_RULE; ' +
          `one whose evaluation takes more than ${RULE_DEADLINE_MS} ms on the sample (the notifier would stop it the same way), 400 HERALD_ERR_RULE_TOO_SLOW.`,
        body: RuleTest,
        response: { 200: RuleTestResult, ...problems(400) },
      },
    },
    async (req) => {
      const config = { ...req.body.rule, parameters: withValues(req.body.rule.parameters) }
      let rule: InLineRule
      try {
        rule = compileRuleInLine(config)
      } catch (err) {
        if (err instanceof RuleConfigError) {
          throw ERR_INVALID_RULE(err.message, { errors: [{ parameter: err.parameter ?? null, position: err.position ?? null, message: err.message }] })
        }
        throw err
      }
      // Evaluated as the notifier evaluates it: in line, or in a worker thread with the same deadline.
      const [result] = await matchSamples(rule, [{ metadata: req.body.metadata ?? {}, payload: req.body.payload ?? {} }])
      if ('timedOut' in result) throw ERR_RULE_TOO_SLOW(`${result.error}: simplify the rule`)
      return { ...result, warnings: [...rule.warnings] }
    },
  )
}
