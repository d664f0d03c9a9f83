import { Type } from 'typebox'
import { RULE_DEADLINE_MS } from '../../rules/linear-regex.ts'
import type { Rule as RuleOf } from '../../notifier/plugin-configurations.ts'
import { rulesCreate } from '../../ops/rules-create.ts'
import { rulesDelete } from '../../ops/rules-delete.ts'
import { rulesList } from '../../ops/rules-list.ts'
import { rulesShow } from '../../ops/rules-show.ts'
import { rulesTest } from '../../ops/rules-test.ts'
import { rulesUpdate } from '../../ops/rules-update.ts'
import { routesOf } from '../endpoint.ts'
import { listingOf, pageView } from '../pagination.ts'
import { BusinessId, BusinessIdParams, DateTime, iso, PluginConfigurationMembers, PluginFields, PluginParameterSchema, strict, withValues, type App, type RouteDeps } from '../schemas.ts'

const Rule = Type.Object({
  ...PluginConfigurationMembers,
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

const ruleView = (rule: RuleOf) => ({ ...rule, updatedAt: iso(rule.updatedAt)! })

/** Rules: a rule matcher (DefaultRuleMatcher, LuceneRuleMatcher) and the recipients it sends to. */
export async function rulesRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'rules')

  route.get('/rules', { access: 'read', summary: 'List rules with their recipients', ...listingOf(Rule) }, async (req) => pageView(await rulesList(ctx, req.principal, req.query), ruleView))

  route.get('/rules/:businessId', { access: 'read', summary: 'One rule', params: BusinessIdParams, response: { 200: Rule }, problems: [400, 404] }, async (req) =>
    ruleView(await rulesShow(ctx, req.principal, req.params)),
  )

  route.post('/rules', { access: 'admin', summary: 'Create a rule and associate its recipients', body: RuleInput, response: { 201: Rule }, problems: [400, 409] }, async (req, reply) =>
    reply.code(201).send(ruleView(await rulesCreate(ctx, req.principal, req.body))),
  )

  route.put(
    '/rules/:businessId',
    { access: 'admin', summary: 'Replace a rule and its recipients', params: BusinessIdParams, body: RuleUpdate, response: { 200: Rule }, problems: [400, 404] },
    async (req) => ruleView(await rulesUpdate(ctx, req.principal, { businessId: req.params.businessId, rule: req.body })),
  )

  route.delete('/rules/:businessId', { access: 'admin', summary: 'Delete a rule', params: BusinessIdParams, response: { 204: Type.Null() }, problems: [400, 404] }, async (req, reply) => {
    await rulesDelete(ctx, req.principal, req.params)
    return reply.code(204).send(null)
  })

  route.post(
    '/rules/test',
    {
      access: 'read',
      summary: 'Evaluate a rule against sample metadata and payload (nothing is stored)',
      description:
        'A rule that cannot be compiled (syntax, unsafe regular expression …) is answered 400 HERALD_ERR_INVALID_RULE; ' +
        `one whose evaluation takes more than ${RULE_DEADLINE_MS} ms on the sample (the notifier would stop it the same way), 400 HERALD_ERR_RULE_TOO_SLOW.`,
      body: RuleTest,
      response: { 200: RuleTestResult },
      problems: [400],
    },
    async (req) => rulesTest(req.principal, { ...req.body, rule: { ...req.body.rule, parameters: withValues(req.body.rule.parameters) } }),
  )
}
