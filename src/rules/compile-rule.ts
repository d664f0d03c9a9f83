/**
 * Public surface of the rule matchers: turns a rule plugin configuration (REGARDS' `PluginConfiguration`
 * of a `DefaultRuleMatcher` or `LuceneRuleMatcher`) into a `CompiledRule`, once per configuration change.
 *
 * Errors are explicit on both sides, as the notifier needs them:
 * - a configuration REGARDS could not instantiate (unknown plugin, missing mandatory parameter, a rule
 *   that does not parse or that REGARDS' builder rejects) throws `RuleConfigError` here, naming the rule,
 *   the parameter and the position;
 * - a payload on which REGARDS would throw while matching gives `{ error }` from `match`, never a silent
 *   false; `match` itself never throws.
 *
 * Parameters that neither plugin knows are ignored (as REGARDS' plugin injection does) and listed in
 * `warnings`, so a typo such as `payloadRule` is visible without rejecting a REGARDS export.
 */
import { compileDefaultRule, DEFAULT_RULE_MATCHER } from './default-rule-matcher.ts'
import { compileLuceneExpression, LUCENE_RULE_MATCHER, type CompiledExpression } from './lucene-rule-matcher.ts'
import { RuleSyntaxError } from './lucene-parse.ts'
import { describeValue, isObject } from './json-values.ts'
import { OffLoop, RULE_DEADLINE_MS } from './linear-regex.ts'

export interface PluginParameter {
  name: string
  type?: string
  value: unknown
  dynamic?: boolean
}

export interface RuleConfig {
  pluginId: string
  businessId?: string
  label?: string
  parameters: PluginParameter[]
}

export type MatchResult = { match: true } | { match: false; explain: string } | { error: string }
/** An in-line evaluation that reached a regular expression it must not run on the event loop, and why. */
export type OffLoopResult = { offLoop: string }

export interface CompiledRule {
  readonly pluginId: string
  /** Accepted but suspicious: unknown parameters, AND/OR mixed without parentheses, literal `*` … */
  readonly warnings: readonly string[]
  /** Never throws; runs to completion, however long: on the event loop, use an `InLineRule`. */
  match(metadata: unknown, payload: unknown): MatchResult
}

/** A rule compiled for the event loop: evaluations that could hold it are handed back as `{ offLoop }`. */
export interface InLineRule {
  readonly pluginId: string
  readonly warnings: readonly string[]
  /** The configuration it was compiled from: a worker compiles it again to evaluate what cannot run in line. */
  readonly config: RuleConfig
  /** Never throws; bounded time (linear-regex.ts). */
  match(metadata: unknown, payload: unknown): MatchResult | OffLoopResult
}

/** A rule configuration that cannot be used; the message names the rule, the parameter and the position. */
export class RuleConfigError extends Error {
  readonly code = 'HERALD_ERR_RULE_CONFIG'
  constructor(
    message: string,
    /** The rule's businessId, else its label, else ''. */
    readonly rule: string,
    readonly parameter?: string,
    /** 0-based offset in the parameter's rule string. */
    readonly position?: number,
  ) {
    super(message)
    this.name = 'RuleConfigError'
  }
}

export const RULE_PLUGIN_IDS: readonly string[] = Object.freeze(['DefaultRuleMatcher', 'LuceneRuleMatcher'])

export const PAYLOAD_RULE = 'payload_rule'
export const METADATA_RULE = 'metadata_rule'
export const HERALD_EXTENSIONS = 'herald_extensions'
export const ATTRIBUTE_TO_SEEK = 'attributeToSeek'
export const ATTRIBUTE_VALUE_TO_SEEK = 'attributeValueToSeek'

/** The parameters each matcher declares; imports refuse the others, rules stored before are warned about. */
const KNOWN: Record<string, readonly string[]> = Object.fromEntries(
  [DEFAULT_RULE_MATCHER, LUCENE_RULE_MATCHER].map((d) => [d.pluginId, Object.keys(d.parameters.properties)]),
)

const MATCH: MatchResult = Object.freeze({ match: true })

/**
 * Compiles a rule plugin configuration.
 *
 * @example
 *   const rule = compileRule({ pluginId: 'LuceneRuleMatcher', businessId: 'geode-l2', parameters: [
 *     { name: 'metadata_rule', type: 'STRING', value: 'action:CREATED' },
 *     { name: 'payload_rule', type: 'STRING', value: 'properties.type:/L2_[A-Z_]+/ AND properties.is_valid:true' },
 *   ] })
 *   rule.match({ action: 'CREATED' }, { properties: { type: 'L2_RAD', is_valid: true } }) // { match: true }
 * @throws RuleConfigError
 */
export function compileRule(config: RuleConfig): CompiledRule {
  // Without `inLine`, no evaluation answers `offLoop`.
  return build(config, false) as unknown as CompiledRule
}

/**
 * Compiles a rule for evaluation on the event loop (the notifier, the rule test API and CLI); what it
 * hands back as `{ offLoop }` is evaluated by `RuleWorkers` (rule-workers.ts).
 * @throws RuleConfigError
 */
export function compileRuleInLine(config: RuleConfig): InLineRule {
  return build(config, true)
}

function build(config: RuleConfig, inLine: boolean): InLineRule {
  const id = ruleId(config)
  const name = id === '' ? 'rule' : `rule "${id}"`
  if (!isObject(config)) throw new RuleConfigError(`rule configuration must be an object, got ${describeValue(config)}`, id)
  const pluginId = config.pluginId
  if (typeof pluginId !== 'string' || !RULE_PLUGIN_IDS.includes(pluginId)) {
    throw new RuleConfigError(`${name}: unknown rule pluginId ${JSON.stringify(pluginId)} (expected one of ${RULE_PLUGIN_IDS.join(', ')})`, id)
  }
  const where = `${name} (${pluginId})`
  const params = readParameters(config, where, id)
  const warnings = [...params.keys()]
    .filter((p) => !KNOWN[pluginId].includes(p))
    .map((p) => `unknown parameter "${p}" is ignored (${pluginId} reads ${KNOWN[pluginId].join(', ')})`)
  const str = (param: string, mandatory: boolean): string | undefined => {
    const v = params.get(param)?.value
    if (v === undefined || v === null) {
      if (mandatory) throw new RuleConfigError(`${where}: missing mandatory parameter ${param}`, id, param)
      return undefined
    }
    if (typeof v !== 'string') throw new RuleConfigError(`${where}: parameter ${param} must be a STRING, got ${describeValue(v)}`, id, param)
    return v
  }

  if (pluginId === 'DefaultRuleMatcher') {
    const rule = compileDefaultRule(str(ATTRIBUTE_TO_SEEK, true)!, str(ATTRIBUTE_VALUE_TO_SEEK, true)!)
    return {
      pluginId,
      warnings,
      config,
      match(_metadata, payload) {
        try {
          return rule.test(payload) ? MATCH : { match: false, explain: rule.explain(payload) }
        } catch (e) {
          return { error: errorText(e) }
        }
      },
    }
  }

  const extensions = readBoolean(params.get(HERALD_EXTENSIONS)?.value, where, id)
  const compileParam = (param: string): CompiledExpression | undefined => {
    const source = str(param, false)
    if (source === undefined) return undefined
    try {
      const compiled = compileLuceneExpression(source, { extensions, inLine })
      for (const w of compiled.warnings) warnings.push(`${param}: ${w.message}`)
      for (const r of compiled.notLinear) {
        warnings.push(`${param}: ${r}, which V8's linear-time engine cannot run: it is evaluated in a worker thread, stopped after ${RULE_DEADLINE_MS} ms`)
      }
      return compiled
    } catch (e) {
      if (!(e instanceof RuleSyntaxError)) throw e
      throw new RuleConfigError(`${where}: parameter ${param}: ${e.message}${near(source, e.position)}`, id, param, e.position)
    }
  }
  const metadataRule = compileParam(METADATA_RULE)
  const payloadRule = compileParam(PAYLOAD_RULE)
  return {
    pluginId,
    warnings,
    config,
    match(metadata, payload) {
      try {
        // LuceneRuleMatcher.match: metadata first, and the payload is not looked at when it fails.
        return evaluate(METADATA_RULE, 'metadata', metadataRule, metadata) ?? evaluate(PAYLOAD_RULE, 'payload', payloadRule, payload) ?? MATCH
      } catch (e) {
        return { error: errorText(e) }
      }
    },
  }
}

/** `undefined` when the expression holds (or is absent), else the non-match or error to return. */
function evaluate(param: string, what: string, rule: CompiledExpression | undefined, root: unknown): MatchResult | OffLoopResult | undefined {
  if (rule === undefined) return undefined
  // JsonObjectMatchVisitor throws on a null object; a non-object cannot reach REGARDS (typed JsonObject).
  if (!isObject(root)) return { error: `${param}: the ${what} is ${describeValue(root)}, not a JSON object` }
  try {
    if (rule.test(root)) return undefined
  } catch (e) {
    if (e instanceof OffLoop) return { offLoop: `${param}: ${e.reason}` }
    throw e
  }
  return { match: false, explain: `${param}: ${rule.explain(root)}` }
}

function readParameters(config: RuleConfig, where: string, id: string): Map<string, PluginParameter> {
  const list: unknown = config.parameters ?? []
  if (!Array.isArray(list)) throw new RuleConfigError(`${where}: parameters must be an array`, id)
  const params = new Map<string, PluginParameter>()
  for (const p of list) {
    if (!isObject(p) || typeof p.name !== 'string') throw new RuleConfigError(`${where}: each parameter needs a string "name"`, id)
    if (params.has(p.name)) throw new RuleConfigError(`${where}: parameter ${p.name} is given twice`, id, p.name)
    params.set(p.name, p as unknown as PluginParameter)
  }
  return params
}

/** BOOLEAN parameter, default false. REGARDS exports may carry it as a string. */
function readBoolean(v: unknown, where: string, id: string): boolean {
  if (v === undefined || v === null || v === false || v === 'false') return false
  if (v === true || v === 'true') return true
  throw new RuleConfigError(`${where}: parameter ${HERALD_EXTENSIONS} must be a BOOLEAN (true or false), got ${describeValue(v)}`, id, HERALD_EXTENSIONS)
}

function ruleId(config: RuleConfig): string {
  const c = config as Partial<RuleConfig> | null
  for (const id of [c?.businessId, c?.label]) if (typeof id === 'string' && id !== '') return id
  return ''
}

function near(source: string, position: number): string {
  if (position >= source.length) return ' (at the end of the rule)'
  const excerpt = source.slice(position, position + 30)
  return ` (near "${excerpt}${source.length > position + 30 ? '…' : ''}")`
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
