import { ERR_INVALID_RULE, ERR_RULE_TOO_SLOW } from '../errors.ts'
import { compileRuleInLine, RuleConfigError, type InLineRule, type RuleConfig } from '../rules/compile-rule.ts'
import { matchSamples } from '../rules/rule-workers.ts'
import { authorize, type Principal } from './principal.ts'

export interface RulesTestInput {
  rule: RuleConfig
  metadata?: Record<string, unknown>
  payload?: Record<string, unknown>
}

export interface RulesTestResult {
  match?: boolean
  /** Why it does not match. */
  explain?: string
  /** Why REGARDS would fail matching this product. */
  error?: string
  warnings: string[]
}

/**
 * Evaluates a rule on one sample product as the notifier would: in line, or in a worker thread stopped at
 * the same deadline. Nothing is stored, and nothing of the tenant is read: no dependencies. (`herald rules
 * test` evaluates a stream of samples offline with the same two functions, src/cli/rules-test.ts.)
 */
export async function rulesTest(principal: Principal, input: RulesTestInput): Promise<RulesTestResult> {
  authorize(principal, 'read')
  let rule: InLineRule
  try {
    rule = compileRuleInLine(input.rule)
  } catch (err) {
    if (err instanceof RuleConfigError) {
      throw ERR_INVALID_RULE(err.message, { errors: [{ parameter: err.parameter ?? null, position: err.position ?? null, message: err.message }] })
    }
    throw err
  }
  const [result] = await matchSamples(rule, [{ metadata: input.metadata ?? {}, payload: input.payload ?? {} }])
  if ('timedOut' in result) throw ERR_RULE_TOO_SLOW(`${result.error}: simplify the rule`)
  return { ...result, warnings: [...rule.warnings] }
}
