import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { compileRule, compileRuleInLine } from '../src/rules/compile-rule.ts'
import { translateJavaRegex } from '../src/rules/java-regex.ts'
import { fitsInLine } from '../src/rules/linear-regex.ts'
import { matchSamples, MAX_TIMEOUTS_PER_CALL, RuleWorkers } from '../src/rules/rule-workers.ts'

const lucene = (payloadRule: string) => ({ pluginId: 'LuceneRuleMatcher', businessId: 'r', parameters: [{ name: 'payload_rule', value: payloadRule }] })

describe('which regular expressions run in line (V8 linear-time engine)', () => {
  it.each([
    'L[1-3]_RAD_GD[A-Z]',
    '.*\\.tar',
    '(?:foo|bar)baz',
    '[0-9]{4}-[0-9]{2}-[0-9]{2}T.*',
    'a{16}',
    '\\bfoo\\b',
    'a*?b',
    '(?<name>x)y',
    // Polynomial on the backtracking engine: the linear engine takes it over after 50,000 backtracks.
    '.*.*.*.*.*.*.*b',
  ])('%s is linear-safe', (pattern) => {
    expect(translateJavaRegex(pattern).notLinear).toBeUndefined()
  })

  it.each([
    ['(?=a).*b', 'look-ahead "(?=" at offset 0'],
    ['x(?!y)', 'negative look-ahead "(?!" at offset 1'],
    ['(?<=a)b', 'look-behind "(?<=" at offset 0'],
    ['a(?<!a)b', 'negative look-behind "(?<!" at offset 1'],
    ['(a)\\1', 'back-reference "\\1" at offset 3'],
    ['[A-Z]{2,30}', 'counted repetition "{2,30}" at offset 5'],
    ['a{17}', 'counted repetition "{17}" at offset 1'],
    // The largest counted repetition is the one to blame, and a look-around before any count.
    ['[0-9]{4}-[A-Z]{2,30}', 'counted repetition "{2,30}" at offset 14'],
    ['a{100}(?=b)b', 'look-ahead "(?=" at offset 6'],
  ])('%s is not, because of its %s', (pattern, construct) => {
    expect(translateJavaRegex(pattern).notLinear).toBe(construct)
  })

  // Patterns from linear-safe pieces: literals, classes, `.`, small counts, non-repeated alternations.
  const atom = fc.constantFrom('a', 'b', 'x', '.', '[a-c]', '[^b]', '\\d', '\\w', '\\.', '(?:ab|b)', '(?:a|xy|b)')
  const quantifier = fc.constantFrom('', '', '*', '+', '?', '*?', '{2}', '{0,3}', '{1,}')
  const repeatable = fc.constantFrom('a', 'b', '.', '[a-c]', '[^b]', '\\d', '(?:ab)')
  const piece = fc.oneof(atom, fc.tuple(repeatable, quantifier).map(([a, q]) => a + q))
  const safePattern = fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join(''))
  // [text inserted, construct named, token quoted, offset of the token in the text]
  const lookaround = fc.constantFrom(
    ['(?=a)', 'look-ahead', '(?=', 0],
    ['(?!a)', 'negative look-ahead', '(?!', 0],
    ['(?<=b)', 'look-behind', '(?<=', 0],
    ['(?<!b)', 'negative look-behind', '(?<!', 0],
  ) as fc.Arbitrary<[string, string, string, number]>
  const construct = fc.oneof(lookaround, fc.constant(['(b)\\1', 'back-reference', '\\1', 3] as [string, string, string, number]))

  it('classifies any pattern made of linear-safe pieces as linear-safe', () => {
    fc.assert(
      fc.property(safePattern, (pattern) => {
        expect(translateJavaRegex(pattern).notLinear).toBeUndefined()
      }),
      { numRuns: 2000 },
    )
  })

  it('names a look-around or back-reference put anywhere in such a pattern, at its offset', () => {
    fc.assert(
      fc.property(safePattern, safePattern, construct, (before, after, [text, name, token, at]) => {
        expect(translateJavaRegex(before + text + after).notLinear).toBe(`${name} "${token}" at offset ${before.length + at}`)
      }),
      { numRuns: 1000 },
    )
  })

  it('in line, a rule gives the same verdict as run to completion, or hands the evaluation to a worker', () => {
    const pattern = fc.oneof(safePattern, fc.tuple(safePattern, lookaround).map(([p, [c]]) => c + p))
    const value = fc.string({ unit: fc.constantFrom('a', 'b', 'x', '1', '.', '_'), maxLength: 40 })
    fc.assert(
      fc.property(pattern, fc.array(value, { minLength: 1, maxLength: 5 }), (p, values) => {
        const config = lucene(`title:/${p.replaceAll('/', '\\/')}/`)
        const full = compileRule(config)
        const inLine = compileRuleInLine(config)
        const linear = translateJavaRegex(p).notLinear === undefined
        for (const title of values) {
          const payload = { title }
          const r = inLine.match({}, payload)
          if (linear) expect(r).toEqual(full.match({}, payload))
          else expect(r).toEqual({ offLoop: expect.stringContaining('which V8\'s linear-time engine cannot run') })
        }
        // The payload decides nothing when the regular expression is not reached.
        expect(inLine.match({}, { other: 1 })).toEqual(full.match({}, { other: 1 }))
      }),
      { numRuns: 500 },
    )
  })

  it('sends a long value to a worker even for a linear-safe pattern, and says so', () => {
    const rule = compileRuleInLine(lucene('title:/.*.*.*.*.*.*.*b/'))
    expect(fitsInLine(15, 1000)).toBe(true)
    expect(rule.match({}, { title: 'a'.repeat(1000) })).toEqual({ match: false, explain: expect.any(String) })
    expect(rule.match({}, { title: 'a'.repeat(3000) })).toEqual({ offLoop: 'payload_rule: /.*.*.*.*.*.*.*b/ (column 1) meets a 3000-character value, too long to run in line' })
  })

  it('warns at compile time about a pattern that will run in a worker', () => {
    expect(compileRuleInLine(lucene('title:/(?=a).*b/')).warnings).toEqual([
      'payload_rule: /(?=a).*b/ (column 1) uses a look-ahead "(?=" at offset 0, which V8\'s linear-time engine cannot run: it is evaluated in a worker thread, stopped after 500 ms',
    ])
    expect(compileRuleInLine(lucene('title:/a.*b/')).warnings).toEqual([])
  })
})

describe('rule workers: a hard deadline off the event loop', () => {
  const workers = new RuleWorkers({ deadlineMs: 300 })
  afterAll(() => workers.close())
  const runaway = { metadata: {}, payload: { properties: { title: 'a'.repeat(3000) } } }
  const good = (title: string) => ({ metadata: {}, payload: { properties: { title } } })

  it('stops the sample that runs out of time, answers the others of the call, and replaces the worker', async () => {
    const rule = compileRuleInLine(lucene('properties.title:/(?=a).*.*.*.*.*.*.*b/'))
    const results = await matchSamples(rule, [good('aab'), runaway, good('ab'), good('x'), runaway, good('aaab')], workers)
    expect(results.map((r) => ('timedOut' in r ? 'timeout' : 'match' in r ? r.match : r.error))).toEqual([true, 'timeout', true, false, 'timeout', true])
    expect(results[1]).toMatchObject({ error: expect.stringMatching(/^the evaluation did not finish within 300 ms and was stopped \(it runs in a worker thread because payload_rule: .*look-ahead/) })
    // The fresh worker evaluates normally.
    expect(await matchSamples(rule, [good('ab')], workers)).toEqual([{ match: true }])
  }, 60_000)

  it(`gives up on the rest of a call after ${MAX_TIMEOUTS_PER_CALL} samples ran out of time: a batch of crafted requests costs a few deadlines`, async () => {
    const rule = compileRuleInLine(lucene('properties.title:/(?=a).*.*.*.*.*.*.*b/'))
    const results = await matchSamples(rule, [runaway, runaway, runaway, good('ab'), runaway], workers)
    expect(results.map((r) => ('error' in r ? r.error.split(' ').slice(0, 3).join(' ') : r))).toEqual([
      ...Array(3).fill('the evaluation did'),
      ...Array(2).fill('not evaluated: the'),
    ])
    expect(results.every((r) => 'timedOut' in r)).toBe(true)
  }, 60_000)

  it('keeps evaluating other rules while one worker is held by a runaway evaluation', async () => {
    const evil = compileRuleInLine(lucene('properties.title:/(?=a).*.*.*.*.*.*.*b/'))
    const other = compileRuleInLine(lucene('properties.title:/(?!z)a+b/'))
    await Promise.all([matchSamples(other, [good('ab')], workers), matchSamples(evil, [good('ab')], workers)]) // both threads up
    const order: string[] = []
    const slow = matchSamples(evil, [runaway], workers).then((r) => (order.push('runaway'), r))
    const fast = await matchSamples(other, Array.from({ length: 100 }, () => good('aab')), workers).then((r) => (order.push('other rule'), r))
    expect(fast.every((r) => 'match' in r && r.match)).toBe(true)
    expect(await slow).toEqual([expect.objectContaining({ timedOut: true })])
    expect(order).toEqual(['other rule', 'runaway'])
  }, 60_000)
})
