import { Type } from 'typebox'
import { requestsDecisions } from '../../ops/requests-decisions.ts'
import { routesOf } from '../endpoint.ts'
import { DateTime, RequestId, strict, type App, type RouteDeps } from '../schemas.ts'

const RuleOutcome = Type.Object({
  rule: Type.String({ description: 'businessId of the rule' }),
  outcome: Type.Union([Type.Literal('match'), Type.Literal('no-match'), Type.Literal('error'), Type.Literal('inactive')]),
  explain: Type.Optional(Type.String({ description: 'no-match: the clause that fails' })),
  error: Type.Optional(Type.String({ description: 'error: why the rule cannot be evaluated on this request' })),
})

const Decisions = Type.Object({
  requestId: Type.String(),
  mode: Type.String(),
  evaluatedAt: DateTime,
  recipients: Type.Array(
    Type.Object({
      recipient: Type.String(),
      label: Type.String(),
      active: Type.Boolean(),
      decision: Type.Union([
        Type.Literal('MATCHED'),
        Type.Literal('NOT_MATCHED'),
        Type.Literal('RULE_ERROR'),
        Type.Literal('NO_RULE'),
        Type.Literal('INACTIVE'),
        Type.Literal('NAMED'),
        Type.Literal('NOT_NAMED'),
      ]),
      reason: Type.String(),
      delivered: Type.Boolean({ description: 'the request has (or had) a delivery to it' }),
      rules: Type.Array(RuleOutcome),
    }),
  ),
})

/** Why a request went, or did not go, to each recipient. */
export async function requestDecisionsRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'requests')
  route.get(
    '/requests/:requestId/decisions',
    {
      access: 'read',
      summary: 'For every recipient of the tenant: whether the rules in force match the stored request, and the clause that fails',
      description:
        'Evaluated now, with the configuration in force, on the stored payload and metadata, as matching evaluates it; `delivered` says ' +
        'whether the request has a delivery to the recipient (decided when it was matched). A DIRECT request is not matched: NAMED / NOT_NAMED.',
      params: strict({ requestId: RequestId }),
      response: { 200: Decisions },
      problems: [400, 404],
    },
    async (req) => {
      const d = await requestsDecisions(ctx, req.principal, req.params)
      return { ...d, evaluatedAt: d.evaluatedAt.toISOString() }
    },
  )
}
