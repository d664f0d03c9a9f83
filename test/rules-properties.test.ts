// Property tests of the Lucene rule parser and evaluator (fast-check).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileRule, RuleConfigError, type MatchResult } from '../src/rules/compile-rule.ts'
import type { RuleNode } from '../src/rules/lucene-ast.ts'
import { parseRule, RuleSyntaxError } from '../src/rules/lucene-parse.ts'
import { printRule } from '../src/rules/lucene-print.ts'
import { compileJavaRegex, RegexTranslationError } from '../src/rules/java-regex.ts'

/** The tree without positions: what must survive printing and parsing again. */
function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip)
  if (typeof node !== 'object' || node === null) return node
  return Object.fromEntries(Object.entries(node).filter(([k]) => k !== 'span').map(([k, v]) => [k, strip(v)]))
}

const span = { start: 0, end: 0 }
// Characters chosen to hit every lexical corner: specials, keywords' letters, escapes, wildcards, spaces.
const CHARS = [...'aAzN0O9R_.é-+!():^<>=[]"{}~\\/*?&| \t\u3000D']

const fieldArb = fc.string({ unit: fc.constantFrom(...CHARS), minLength: 1, maxLength: 5 })

const termArb = fc
  .record({
    field: fieldArb,
    chars: fc.array(fc.record({ c: fc.constantFrom(...CHARS, 'AND', 'OR', 'NOT', '&&', 'null'), wild: fc.boolean() }), { minLength: 1, maxLength: 5 }),
    quoted: fc.boolean(),
    fuzzy: fc.boolean(),
  })
  .map(({ field, chars, quoted, fuzzy }): RuleNode => {
    const value = chars.map((x) => x.c).join('')
    if (quoted) return { kind: 'term', field, value, quoted, glob: null, fuzzy: false, span }
    const glob = chars
      .map(({ c, wild }) => (c === '*' || c === '?' ? (wild ? c : '\\' + c) : c.replace(/\\/g, '\\\\')))
      .join('')
    return { kind: 'term', field, value, quoted, glob, fuzzy, span }
  })
  .filter((t) => !(t.kind === 'term' && t.field === '*' && t.value === '*'))

const regexArb = fc.record({
  field: fieldArb,
  pattern: fc.array(fc.constantFrom('a', 'b', '.', '*', '\\/', '\\d', '[ab]', '(', ')', '|', ' ', ':', '"'), { maxLength: 6 }).map((p) => p.join('')),
}).map(({ field, pattern }): RuleNode => ({ kind: 'regex', field, pattern, span }))

const boundArb = fc.option(fc.string({ unit: fc.constantFrom(...'az09 -:."\\]}TO*'), minLength: 1, maxLength: 4 }).filter((s) => s !== '*'), { nil: null })

const rangeArb = fc
  .record({ field: fieldArb, lower: boundArb, upper: boundArb, li: fc.boolean(), ui: fc.boolean() })
  .map(({ field, lower, upper, li, ui }): RuleNode => ({
    kind: 'range', field, lower, upper, lowerInclusive: lower === null || li, upperInclusive: upper === null || ui, span,
  }))

const leafArb = fc.oneof(termArb, termArb, regexArb, rangeArb, fc.constant<RuleNode>({ kind: 'all', span }))

function treeOf(leaf: fc.Arbitrary<RuleNode>): fc.Arbitrary<RuleNode> {
  return fc.letrec<{ node: RuleNode; bool: RuleNode; not: RuleNode }>((tie) => ({
    node: fc.oneof({ depthSize: 'small', maxDepth: 4 }, leaf, tie('bool'), tie('not')),
    bool: fc
      .record({ kind: fc.constantFrom('and' as const, 'or' as const), clauses: fc.array(tie('node'), { minLength: 2, maxLength: 3 }) })
      .map(({ kind, clauses }): RuleNode => ({ kind, clauses, span })),
    not: tie('node').map((clause): RuleNode => ({ kind: 'not', clause, span })),
  })).node
}

describe('rule parser: print → parse round trip', () => {
  it('parse(print(tree)) gives the tree back', () => {
    fc.assert(
      fc.property(treeOf(leafArb), (tree) => {
        const printed = printRule(tree)
        const parsed = parseRule(printed, { extensions: true })
        expect(strip(parsed.ast), printed).toEqual(strip(tree))
        expect(parsed.problems).toEqual([])
      }),
      { numRuns: 1500 },
    )
  })

  it('print(parse(s)) parses to the same tree for any rule string that parses', () => {
    fc.assert(
      fc.property(ruleSoup, (src) => {
        let ast: RuleNode
        try {
          ast = parseRule(src).ast
        } catch (e) {
          if (e instanceof RuleSyntaxError) return
          throw e
        }
        expect(strip(parseRule(printRule(ast)).ast), `${src} → ${printRule(ast)}`).toEqual(strip(ast))
      }),
      { numRuns: 3000 },
    )
  })
})

// Small vocabularies so that generated rules and payloads actually meet.
const KEYS = ['a', 'b', 'c']
const PATHS = ['a', 'b', 'a.b', 'a.c', 'b.a.c', 'c']
const VALUES = ['1', 'x', 'true', 'null', 'NULL', '"x"', '2.5']

const evalLeafArb = (extensions: boolean): fc.Arbitrary<RuleNode> => {
  const leaves: fc.Arbitrary<string>[] = [
    fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...VALUES)).map(([p, v]) => `${p}:${v}`),
    fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom('/x/', '/[0-9.]+/', '/.*/', '/tru./')).map(([p, v]) => `${p}:${v}`),
  ]
  if (extensions) {
    leaves.push(
      fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom('[0 TO 1]', '{1 TO *]', '>=2', '[a TO z]', 'x*', '?', '*')).map(([p, v]) => `${p}:${v}`),
    )
  }
  return fc.oneof(...leaves).map((s) => parseRule(s, { extensions }).ast)
}

const jsonArb = (arrays: boolean) =>
  fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      fc.constantFrom(1, 'x', true, null, 2.5, 'true', 0),
      tie('object'),
      ...(arrays ? [fc.array(tie('value'), { maxLength: 3 })] : []),
    ),
    object: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  })).object

function evaluate(rule: string, extensions: boolean, payload: unknown): MatchResult {
  return compileRule({
    pluginId: 'LuceneRuleMatcher',
    parameters: [
      { name: 'payload_rule', value: rule },
      { name: 'herald_extensions', value: extensions },
    ],
  }).match({}, payload)
}

describe('rule evaluator properties', () => {
  for (const extensions of [false, true]) {
    it(`NOT x is the negation of x on every payload where x does not fail (extensions ${extensions})`, () => {
      fc.assert(
        fc.property(treeOf(evalLeafArb(extensions)), jsonArb(true), (x, payload) => {
          const plain = evaluate(printRule(x), extensions, payload)
          const negated = evaluate(printRule({ kind: 'not', clause: x, span }), extensions, payload)
          if ('error' in plain) expect(negated).toHaveProperty('error')
          else expect(negated).toMatchObject({ match: !plain.match })
        }),
        { numRuns: 1500 },
      )
    })
  }

  it('turning the extensions on changes nothing for a REGARDS rule on a payload without arrays', () => {
    fc.assert(
      fc.property(treeOf(evalLeafArb(false)), jsonArb(false), (x, payload) => {
        const rule = printRule(x)
        expect(evaluate(rule, true, payload), rule).toEqual(evaluate(rule, false, payload))
      }),
      { numRuns: 1500 },
    )
  })
})

// Token soup: fragments that combine into valid, invalid and nasty rules.
const FRAGMENTS = [
  'a', 'b.c', 'x:', 'y=', ':', ' ', '  ', 'AND', 'OR', 'NOT', '&&', '||', '!', '-', '+', '(', ')', '"q w"', '"',
  '/L[0-9]+/', '/', '/(a+)+/', '[1 TO 5]', '{a TO *]', '[', ']', '}', 'TO', '*', '?', 'L2*', '~', '~0.5', '^2', '^',
  '\\', '\\:', '\\u0041', '\\u00', '>=', '<', 'null', '*:*', 'é', '\u3000', '\t',
]
// Grammar-guided rules: mostly valid, with every operator spelling, modifier, group and value form.
const grammarRule = fc.letrec<{ expr: string; clause: string }>((tie) => ({
  expr: fc
    .tuple(tie('clause'), fc.array(fc.tuple(fc.constantFrom(' AND ', ' OR ', ' && ', '||', ' AND NOT ', ' OR -', ' ', ' AND +'), tie('clause')), { maxLength: 3 }))
    .map(([first, rest]) => first + rest.map(([op, c]) => op + c).join('')),
  clause: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc
      .tuple(
        fc.constantFrom('', 'NOT ', '-', '!', '+'),
        fc.constantFrom('a', 'a.b', 'p\.q', 'AND\:x'),
        fc.constantFrom(':', '=', ': ', '<', '>='),
        fc.constantFrom('L2', '"a b"', '/x.*/', 'null', '"NULL"', 'L2*', '[1 TO 5]', '{a TO *]', '2020\:01', 'a\ b', '\u0041', 'x~', 'x~1', '46', '-1', '"q\"x"'),
      )
      .map((parts) => parts.join('')),
    fc.tuple(fc.constantFrom('', 'NOT ', 'f:', 'g='), tie('expr')).map(([pre, e]) => `${pre}(${e})`),
  ),
})).expr

const ruleSoup = fc.oneof(
  grammarRule,
  grammarRule,
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }).map((parts) => parts.join('')),
  fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 20 }),
)

describe('fuzzed rules', () => {
  for (const extensions of [false, true]) {
    it(`either compile or throw RuleConfigError, and then never throw while matching (extensions ${extensions})`, () => {
      const payloads = [{ a: 1, b: { c: 'L2' } }, { a: [null, { b: 1 }], x: null }, {}]
      fc.assert(
        fc.property(ruleSoup, (src) => {
          const started = performance.now()
          let rule
          try {
            rule = compileRule({ pluginId: 'LuceneRuleMatcher', businessId: 'fuzz', parameters: [{ name: 'payload_rule', value: src }, { name: 'herald_extensions', value: extensions }] })
          } catch (e) {
            expect(e).toBeInstanceOf(RuleConfigError)
            expect((e as RuleConfigError).message).toContain('fuzz')
            const pos = (e as RuleConfigError).position
            if (pos !== undefined) expect(pos).toBeGreaterThanOrEqual(0)
            if (pos !== undefined) expect(pos).toBeLessThanOrEqual(src.length)
            return
          }
          for (const p of payloads) {
            const r = rule.match({}, p)
            expect('error' in r || typeof r.match === 'boolean').toBe(true)
          }
          expect(performance.now() - started).toBeLessThan(250)
        }),
        { numRuns: 4000 },
      )
    })
  }

  it('regular expressions either translate or are rejected with RegexTranslationError', () => {
    const unit = fc.constantFrom(...'ab.*+?()[]{}|^$\\dwsQEpk0x1,-&<>=!:/'.split(''))
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), (pattern) => {
        try {
          expect(compileJavaRegex(pattern)).toBeInstanceOf(RegExp)
        } catch (e) {
          expect(e).toBeInstanceOf(RegexTranslationError)
        }
      }),
      { numRuns: 4000 },
    )
  })
})
