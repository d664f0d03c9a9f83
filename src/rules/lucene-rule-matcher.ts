/**
 * Compiles one LuceneRuleMatcher expression (`payload_rule` or `metadata_rule`) into a predicate over a
 * JSON object, with REGARDS' semantics (`JsonObjectMatchVisitor`, regards-backend query-parser):
 *
 * - a field is a dotted path, split like Java's `String.split("\\.")` and walked through objects only;
 *   anything else on the way (array, primitive, JSON null) means "absent";
 * - `field:value` / `field:"phrase"` is true iff the leaf is a primitive whose string form equals the
 *   value (exact, case-sensitive; see json-values.ts for numbers);
 * - `field:null` (any case, quoted or not) is true iff the path is absent; a present primitive gives
 *   false; anything Gson cannot read as a string (JSON null, an object, an array of other than one
 *   element) makes REGARDS throw: a matching error;
 * - `field:/re/` is a Java regex that must match the whole primitive leaf; absent or not primitive: false;
 * - AND and OR short-circuit left to right (so a clause after the deciding one cannot raise an error).
 *
 * With `extensions`, Herald also evaluates ranges, `*`/`?` wildcards and `*:*`, and a path may go through
 * arrays: the clause holds if any element holds ("array-any"). Nothing else changes.
 *
 * Rules are compiled once per configuration change into closures; evaluation allocates nothing on the
 * non-array path (bench/rules.ts measures it).
 *
 * With `inLine`, a regular expression that could hold the event loop (one V8's linear-time engine cannot
 * run, or a long value: linear-regex.ts) is not run: the evaluation throws `OffLoop` and is redone in a
 * worker under a deadline. A clause decided before reaching it (AND, OR short-circuit) never offloads.
 */
import { Type } from 'typebox'
import { declarePlugin, P } from '../plugins/declaration.ts'
import type { RangeNode, RegexNode, RuleNode, TermNode } from './lucene-ast.ts'
import { parseRule, RuleSyntaxError, type RuleProblem } from './lucene-parse.ts'
import { printRule } from './lucene-print.ts'
import { RegexTranslationError, translateJavaRegex, type JavaRegex } from './java-regex.ts'
import { fitsInLine, OffLoop } from './linear-regex.ts'
import { globPredicate, hasWildcard, rangePredicate } from './herald-extensions.ts'
import { describeValue, getOwn, gsonAsString, isObject, isPrimitive, needsOwnCheck, primitiveString, type JsonObject } from './json-values.ts'

export const LUCENE_RULE_MATCHER = declarePlugin({
  pluginId: 'LuceneRuleMatcher',
  kind: 'RULE',
  version: '1.0.0',
  author: 'Herald',
  description: 'Matches when both Lucene expressions hold, on the metadata and on the payload; an absent expression holds (REGARDS LuceneRuleMatcher).',
  parameters: Type.Object({
    payload_rule: P.optional(P.string('Lucene expression on the payload, e.g. properties.type:/L2_.+/ AND properties.is_valid:true.', { label: 'Payload rule' })),
    metadata_rule: P.optional(P.string('Lucene expression on the metadata, evaluated first, e.g. action:CREATED.', { label: 'Metadata rule' })),
    herald_extensions: P.optional(P.boolean('Herald only: ranges, * and ? wildcards, *:* and paths through arrays.', { label: 'Herald extensions', default: false })),
  }),
})

export interface LuceneOptions {
  /** Herald extensions (ranges, wildcards, array-any, `*:*`); off means REGARDS semantics exactly. */
  extensions: boolean
  /** Throw `OffLoop` instead of running a regular expression that could hold the event loop. Default false. */
  inLine?: boolean
}

/** One compiled expression. `test` may throw `MatchError`; `explain` is only meaningful after a false `test`. */
export interface CompiledExpression {
  readonly source: string
  readonly warnings: readonly RuleProblem[]
  /** The regular expressions V8's linear-time engine cannot run, each with the construct that keeps it out. */
  readonly notLinear: readonly string[]
  test(root: JsonObject): boolean
  explain(root: JsonObject): string
}

interface Compiled {
  test: (root: JsonObject) => boolean
  explain: (root: JsonObject) => string
}

interface Context {
  options: LuceneOptions
  errors: RuleProblem[]
  warnings: RuleProblem[]
  notLinear: string[]
}

/**
 * @example
 *   const e = compileLuceneExpression('properties.type:(L1 OR L2) AND properties.count:46', { extensions: false })
 *   e.test({ properties: { type: 'L2', count: 46 } }) // true
 * @throws RuleSyntaxError for a rule REGARDS could not parse or build, at the position of the first problem.
 */
export function compileLuceneExpression(source: string, options: LuceneOptions): CompiledExpression {
  const parsed = parseRule(source, { extensions: options.extensions })
  const ctx: Context = { options, errors: [...parsed.problems], warnings: [...parsed.warnings], notLinear: [] }
  const compiled = compileNode(parsed.ast, ctx)
  if (ctx.errors.length > 0) {
    const first = ctx.errors.reduce((a, b) => (b.position < a.position ? b : a))
    throw new RuleSyntaxError(first.message, first.position)
  }
  return { source, warnings: ctx.warnings, notLinear: ctx.notLinear, test: compiled.test, explain: compiled.explain }
}

function compileNode(node: RuleNode, ctx: Context): Compiled {
  switch (node.kind) {
    case 'and': {
      const parts = node.clauses.map((c) => compileNode(c, ctx))
      const tests = parts.map((p) => p.test)
      const n = tests.length
      return {
        test: (o) => {
          for (let i = 0; i < n; i++) if (!tests[i](o)) return false
          return true
        },
        explain: (o) => parts.find((p) => !p.test(o))?.explain(o) ?? '',
      }
    }
    case 'or': {
      const parts = node.clauses.map((c) => compileNode(c, ctx))
      const tests = parts.map((p) => p.test)
      const n = tests.length
      return {
        test: (o) => {
          for (let i = 0; i < n; i++) if (tests[i](o)) return true
          return false
        },
        explain: (o) => `no alternative matched: ${parts.map((p) => p.explain(o)).join('; ')}`,
      }
    }
    case 'not': {
      const inner = compileNode(node.clause, ctx)
      return { test: (o) => !inner.test(o), explain: () => `${printRule(node)} is false: ${printRule(node.clause)} matches` }
    }
    case 'term':
      return compileTerm(node, ctx)
    case 'regex':
      return compileRegex(node, ctx)
    case 'range':
      return compileRange(node, ctx)
    case 'all':
      if (!ctx.options.extensions) reject(ctx, node.span.start, '"*:*" is not supported by REGARDS (its rule builder rejects match-all)')
      return { test: () => true, explain: () => '' }
  }
}

function compileTerm(node: TermNode, ctx: Context): Compiled {
  const ext = ctx.options.extensions
  const path = splitPath(node.field)
  const resolve = makeResolver(path)
  const explain = leafExplain(node, resolve)
  // FieldQueryNodeBuilder: a text equal to "null" ignoring case is the absence test, quoted or not.
  if (node.value.length === 4 && node.value.toLowerCase() === 'null') {
    const what = `${node.field} (in ${printRule(node)})`
    if (ext) return { test: makeAbsentTest(path, what), explain }
    return {
      test: (o) => {
        const v = resolve(o)
        if (v === undefined) return true
        gsonAsString(v, what) // throws for JSON null, objects, arrays of other than one element
        return false
      },
      explain,
    }
  }
  const wildcard = node.glob !== null && !node.fuzzy && hasWildcard(node.glob)
  if (wildcard && !ext) {
    ctx.warnings.push({
      position: node.span.start,
      message: `"${printRule(node)}" at column ${node.span.start + 1} is compared literally (REGARDS has no wildcards): use a /regex/ or herald_extensions`,
    })
  }
  const pred = wildcard && ext ? globPredicate(node.glob!) : equalsPredicate(node.value)
  return { test: ext ? makeAnyLeaf(path, pred) : (o) => pred(resolve(o)), explain }
}

function compileRegex(node: RegexNode, ctx: Context): Compiled {
  let translated: JavaRegex
  try {
    translated = translateJavaRegex(node.pattern)
  } catch (e) {
    if (!(e instanceof RegexTranslationError)) throw e
    reject(ctx, node.span.start, `regular expression /${node.pattern}/: ${e.message}`)
    translated = { re: /$^/, notLinear: undefined }
  }
  const { re, notLinear } = translated
  const where = `/${node.pattern}/ (column ${node.span.start + 1})`
  if (notLinear) ctx.notLinear.push(`${where} uses a ${notLinear}`)
  let test = (s: string) => re.test(s)
  if (ctx.options.inLine) {
    const size = node.pattern.length
    // One instance, thrown on every evaluation: building an Error (its stack) costs ~30 µs.
    const offLoop = notLinear ? new OffLoop(`${where} uses a ${notLinear}, which V8's linear-time engine cannot run`) : undefined
    test = offLoop
      ? () => {
          throw offLoop
        }
      : (s) => {
          if (!fitsInLine(size, s.length)) throw new OffLoop(`${where} meets a ${s.length}-character value, too long to run in line`)
          return re.test(s)
        }
  }
  const pred = (leaf: unknown) => isPrimitive(leaf) && test(primitiveString(leaf))
  const path = splitPath(node.field)
  const resolve = makeResolver(path)
  return { test: ctx.options.extensions ? makeAnyLeaf(path, pred) : (o) => pred(resolve(o)), explain: leafExplain(node, resolve) }
}

function compileRange(node: RangeNode, ctx: Context): Compiled {
  if (!ctx.options.extensions) {
    reject(ctx, node.span.start, `range "${printRule(node)}" is not supported by REGARDS (its rule builder rejects ranges): set herald_extensions to true for Herald's ranges`)
  }
  const path = splitPath(node.field)
  return { test: makeAnyLeaf(path, rangePredicate(node)), explain: leafExplain(node, makeResolver(path)) }
}

function reject(ctx: Context, position: number, message: string): void {
  ctx.errors.push({ position, message: `${message} (column ${position + 1})` })
}

/** `(leaf) => leaf's string form === value`, without building strings for numbers and booleans. */
function equalsPredicate(value: string): (leaf: unknown) => boolean {
  const num = Number(value)
  // Only a value written in canonical form can equal String(number).
  const numeric = value.trim() !== '' && String(num) === value
  return (leaf) => {
    switch (typeof leaf) {
      case 'string': return leaf === value
      case 'number': return numeric && leaf === num
      case 'boolean': return leaf ? value === 'true' : value === 'false'
      case 'bigint': return String(leaf) === value
      default: return false
    }
  }
}

/** Java's `field.split("\\.")`: trailing empty segments are dropped, but "" stays [""]. */
export function splitPath(field: string): string[] {
  if (field === '') return ['']
  const parts = field.split('.')
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  return parts
}

/** REGARDS' `findPropertyByPath`: `undefined` when absent. */
function makeResolver(path: string[]): (root: JsonObject) => unknown {
  const own = path.map(needsOwnCheck)
  const n = path.length
  return (root) => {
    let el: unknown = root
    for (let i = 0; i < n; i++) {
      if (!isObject(el)) return undefined
      el = own[i] ? getOwn(el, path[i]) : el[path[i]]
    }
    return el
  }
}

/** Extension "array-any": arrays met on the path or at the leaf are searched element by element. */
function makeAnyLeaf(path: string[], pred: (leaf: unknown) => boolean): (root: JsonObject) => boolean {
  const own = path.map(needsOwnCheck)
  const n = path.length
  const walk = (el: unknown, i: number): boolean => {
    if (Array.isArray(el)) {
      for (const item of el) if (walk(item, i)) return true
      return false
    }
    if (i === n) return pred(el)
    if (!isObject(el)) return false
    const next = own[i] ? getOwn(el, path[i]) : el[path[i]]
    return next !== undefined && walk(next, i + 1)
  }
  return (root) => walk(root, 0)
}

/**
 * `field:null` with extensions: true iff nothing is found along the path (through arrays). A present
 * array gives false; any other leaf is treated as REGARDS does (primitive: false; JSON null or an object:
 * matching error), so that the extension changes nothing on array-free payloads.
 */
function makeAbsentTest(path: string[], what: string): (root: JsonObject) => boolean {
  const own = path.map(needsOwnCheck)
  const present = (el: unknown, i: number): boolean => {
    if (i === path.length) {
      if (!Array.isArray(el)) gsonAsString(el, what)
      return true
    }
    if (Array.isArray(el)) return el.some((item) => present(item, i))
    if (!isObject(el)) return false
    const next = own[i] ? getOwn(el, path[i]) : el[path[i]]
    return next !== undefined && present(next, i + 1)
  }
  return (root) => !present(root, 0)
}

function leafExplain(node: RuleNode & { field: string }, resolve: (root: JsonObject) => unknown): (root: JsonObject) => string {
  return (root) => `${printRule(node)} is false (${node.field} is ${describeValue(resolve(root))})`
}
