import { sql } from 'kysely'
import { PREPARED, type Tx } from '../db/client.ts'
import type { OutboxEvent } from '../amqp/outbox-relay.ts'
import { notifierEvent } from './notifier-event.ts'
import { matchSamples, type Sample } from '../rules/rule-workers.ts'
import type { TenantConfig } from './tenant-config.ts'

/** A request in state GRANTED, due for matching. */
export interface RequestToMatch {
  id: number
  tenant: string
  requestId: string
  requestOwner: string | undefined
  requestDate: Date
  priority: number
  payload: Record<string, unknown>
  metadata: Record<string, unknown>
}

export interface RuleError {
  rule: string
  error: string
}

export interface MatchOutcome {
  events: OutboxEvent[]
  /** Requests whose matching is over (SCHEDULED): the caller runs completion on them. */
  scheduled: number[]
  deliveries: number
  ruleErrors: RuleError[]
}

/** What one rule in force said of one request. */
export interface RuleOutcome {
  rule: string
  outcome: 'match' | 'no-match' | 'error'
  /** The clause that fails (`metadata_rule: action is "UPDATED", not "CREATED"`). */
  explain?: string
  error?: string
}

/** What the tenant's rules decided for one request. */
export interface RuleVerdict {
  /** Matched recipients that are active (a deactivated recipient receives no new products). */
  recipientIds: number[]
  /** Rules that could not be evaluated. */
  errors: RuleError[]
  /** Every rule in force, in the configuration's order: what the decision was made of, for explanations. */
  rules: RuleOutcome[]
}

/**
 * The one decision of the recipients of requests by the tenant's rules: matching at intake, when due and
 * on a retry, and the explanation of a stored request (explain-decisions.ts), so an explanation can never
 * disagree with the decision. Evaluates in memory: on the event loop, except the evaluations that could
 * hold it (rule-workers.ts), which go to a worker thread in one call per rule for the whole batch and are
 * stopped at their deadline (a rule error naming the rule).
 */
export async function evaluateRules(config: TenantConfig, samples: Sample[]): Promise<RuleVerdict[]> {
  const perRule = await Promise.all(config.rules.map((rule) => ('compileError' in rule.compiled ? undefined : matchSamples(rule.compiled, samples))))
  return samples.map((_, s) => {
    const recipients = new Set<number>()
    const errors: RuleError[] = []
    const rules = config.rules.map((rule, r): RuleOutcome => {
      const result = 'compileError' in rule.compiled ? { error: rule.compiled.compileError } : perRule[r]![s]
      if ('error' in result) {
        errors.push({ rule: rule.businessId, error: result.error })
        return { rule: rule.businessId, outcome: 'error', error: result.error }
      }
      if (!result.match) return { rule: rule.businessId, outcome: 'no-match', explain: result.explain }
      for (const id of rule.recipientIds) recipients.add(id)
      return { rule: rule.businessId, outcome: 'match' }
    })
    return { recipientIds: [...recipients].filter((id) => config.recipientsById.get(id)?.active), errors, rules }
  })
}

/** The ERROR event of a request whose rules could not all be evaluated, naming each rule. */
export function ruleErrorEvent(request: Pick<RequestToMatch, 'tenant' | 'requestId' | 'requestOwner' | 'requestDate'>, errors: RuleError[]): OutboxEvent {
  return notifierEvent({
    tenant: request.tenant,
    requestId: request.requestId,
    requestOwner: request.requestOwner,
    state: 'ERROR',
    notificationDate: request.requestDate,
    errors: errors.map((e) => `rule ${e.rule} could not be evaluated: ${e.error}`),
  })
}

/**
 * Matches stored requests (delayed ones once due, retries) and creates one delivery per matched active
 * recipient. A rule that fails to evaluate is reported once, by an ERROR event naming the rule; the
 * request then waits in RULE_ERROR for a fix of the configuration or a retry, while the recipients of the
 * rules that did match are delivered.
 */
export async function matchRequests(tx: Tx, config: TenantConfig, requests: RequestToMatch[]): Promise<MatchOutcome> {
  const outcome: MatchOutcome = { events: [], scheduled: [], deliveries: 0, ruleErrors: [] }
  if (requests.length === 0) return outcome
  const deliveries: { request_pk: number; recipient_id: number; priority: number; request_date: string; tenant: string }[] = []
  const updates: { id: number; state: string; rule_errors: RuleError[] | null }[] = []
  const verdicts = await evaluateRules(config, requests)
  requests.forEach((request, i) => {
    const { recipientIds, errors } = verdicts[i]
    for (const id of recipientIds) {
      deliveries.push({ request_pk: request.id, recipient_id: id, priority: request.priority, request_date: request.requestDate.toISOString(), tenant: request.tenant })
    }
    if (errors.length > 0) {
      outcome.ruleErrors.push(...errors)
      outcome.events.push(ruleErrorEvent(request, errors))
      updates.push({ id: request.id, state: 'RULE_ERROR', rule_errors: errors })
    } else {
      updates.push({ id: request.id, state: 'SCHEDULED', rule_errors: null })
      outcome.scheduled.push(request.id)
    }
  })
  if (deliveries.length > 0) {
    // A retried request keeps its deliveries: successes are never sent twice, errors were reset by the retry.
    await sql`${PREPARED}insert into delivery (tenant, request_pk, recipient_id, state, priority, request_date)
      select tenant, request_pk, recipient_id, 'PENDING', priority, request_date
      from jsonb_to_recordset(${JSON.stringify(deliveries)}::jsonb)
        as t(tenant text, request_pk bigint, recipient_id bigint, priority int, request_date timestamptz)
      on conflict (request_pk, recipient_id) do nothing`.execute(tx)
  }
  await sql`${PREPARED}update notification_request r set state = u.state, rule_errors = u.rule_errors, updated_at = now()
    from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as u(id bigint, state text, rule_errors jsonb)
    where r.id = u.id`.execute(tx)
  outcome.deliveries = deliveries.length
  return outcome
}
