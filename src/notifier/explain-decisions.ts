import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { evaluateRules, type RuleOutcome as EvaluatedRule } from './match-requests.ts'
import type { TenantConfig } from './tenant-config.ts'

/** What the tenant's configuration decides for a stored request, per recipient. */
export type Decision = 'MATCHED' | 'NOT_MATCHED' | 'RULE_ERROR' | 'NO_RULE' | 'INACTIVE' | 'NAMED' | 'NOT_NAMED'

export interface RuleOutcome extends Omit<EvaluatedRule, 'outcome'> {
  /** `inactive`: the rule is deactivated, so matching does not use it (not evaluated). */
  outcome: EvaluatedRule['outcome'] | 'inactive'
}

export interface RecipientDecision {
  recipient: string
  label: string
  active: boolean
  decision: Decision
  /** One sentence for the operator. */
  reason: string
  /** The request has (or had, when completed) a delivery to this recipient. */
  delivered: boolean
  rules: RuleOutcome[]
}

export interface StoredRequest {
  mode: string
  payload: unknown
  metadata: unknown
  /** businessIds of the recipients it has deliveries to. */
  deliveredTo: string[]
}

/**
 * Says for every recipient of the tenant whether the rules in force send it a stored request and, if not,
 * why: the clause of each of its rules that fails, a rule that cannot be evaluated, an inactive recipient,
 * no rule. The decision is matching's own (`evaluateRules`, in line or in a worker thread with the same
 * deadline), so the explanation cannot disagree with it. A direct request is not matched: its recipients
 * are those it names.
 */
export async function explainDecisions(db: Db, config: TenantConfig, request: StoredRequest): Promise<RecipientDecision[]> {
  const delivered = new Set(request.deliveredTo)
  const direct = request.mode === 'DIRECT'
  const verdict = direct ? undefined : (await evaluateRules(config, [{ metadata: request.metadata, payload: request.payload }]))[0]
  const inactiveRules = direct ? [] : await inactiveRulesOf(db, config.tenant)
  const recipients = [...config.recipientsById.values()].sort((a, b) => a.businessId.localeCompare(b.businessId))
  return recipients.map((recipient) => {
    const base = { recipient: recipient.businessId, label: recipient.info.recipientLabel ?? recipient.label, active: recipient.active, delivered: delivered.has(recipient.businessId) }
    if (!verdict) {
      const named = base.delivered
      return { ...base, rules: [], decision: named ? 'NAMED' : 'NOT_NAMED', reason: named ? 'named by this direct request' : 'not named by this direct request (rules do not apply to it)' }
    }
    const rules: RuleOutcome[] = [
      ...config.rules.flatMap((rule, i) => (rule.recipientIds.includes(recipient.id) ? [verdict.rules[i]] : [])),
      ...inactiveRules.filter((r) => r.recipientId === recipient.id).map((r): RuleOutcome => ({ rule: r.rule, outcome: 'inactive' })),
    ]
    const matched = rules.filter((r) => r.outcome === 'match')
    const failed = rules.filter((r) => r.outcome === 'error')
    const evaluated = rules.filter((r) => r.outcome !== 'inactive')
    const names = (list: RuleOutcome[]) => list.map((r) => r.rule).join(', ')
    const decide = (decision: Decision, reason: string): RecipientDecision => ({ ...base, rules, decision, reason })
    if (!recipient.active) {
      return decide('INACTIVE', `inactive: it receives no new products${matched.length > 0 ? ` (rule ${names(matched)} would match)` : ''}`)
    }
    if (verdict.recipientIds.includes(recipient.id)) return decide('MATCHED', `rule ${names(matched)} matches`)
    if (failed.length > 0) return decide('RULE_ERROR', `rule ${failed[0].rule} could not be evaluated: ${failed[0].error}`)
    if (evaluated.length === 0) {
      const inactive = rules.filter((r) => r.outcome === 'inactive')
      return decide('NO_RULE', inactive.length > 0 ? `its only rules (${names(inactive)}) are inactive` : 'no rule sends products to it')
    }
    return decide('NOT_MATCHED', evaluated.map((r) => `rule ${r.rule}: ${r.explain}`).join('; '))
  })
}

/** Deactivated rules and the recipients they are associated with (matching does not use them). */
async function inactiveRulesOf(db: Db, tenant: string): Promise<{ rule: string; recipientId: number }[]> {
  const { rows } = await sql<{ rule: string; recipient_id: number }>`select c.business_id as rule, rr.recipient_id
    from plugin_configuration c join rule_recipient rr on rr.rule_id = c.id
    where c.tenant = ${tenant} and c.kind = 'RULE' and not c.active`.execute(db)
  return rows.map((r) => ({ rule: r.rule, recipientId: Number(r.recipient_id) }))
}
