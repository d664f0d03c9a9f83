import { describe, expect, it } from 'vitest'
import { compileRule, RuleConfigError, type MatchResult, type PluginParameter } from '../src/rules/compile-rule.ts'

// REGARDS' own example of a LuceneRuleMatcher request.
const PAYLOAD = { properties: { is_valid: true, type: 'L2_RAD_GDR', count: 46, tags: ['a'] } }
const METADATA = { action: 'CREATED', session: 's1' }

interface Options {
  param?: 'payload_rule' | 'metadata_rule'
  extensions?: boolean | string
}

function lucene(rule: string, opts: Options = {}) {
  const parameters: PluginParameter[] = [{ name: opts.param ?? 'payload_rule', type: 'STRING', value: rule }]
  if (opts.extensions !== undefined) parameters.push({ name: 'herald_extensions', type: 'BOOLEAN', value: opts.extensions })
  return compileRule({ pluginId: 'LuceneRuleMatcher', businessId: 'test-rule', parameters })
}

function match(rule: string, payload: unknown = PAYLOAD, opts: Options = {}): MatchResult {
  return lucene(rule, opts).match(METADATA, payload)
}

function result(rule: string, payload: unknown = PAYLOAD, opts: Options = {}): boolean | 'error' {
  const r = match(rule, payload, opts)
  return 'error' in r ? 'error' : r.match
}

function configError(rule: string, opts: Options = {}): RuleConfigError {
  try {
    lucene(rule, opts)
  } catch (e) {
    if (e instanceof RuleConfigError) return e
    throw e
  }
  throw new Error(`expected a configuration error for ${rule}`)
}

describe('LuceneRuleMatcher: the reference example table', () => {
  const rows: [string, Options, boolean][] = [
    ['action:CREATED', { param: 'metadata_rule' }, true],
    ['action:created', { param: 'metadata_rule' }, false],
    ['properties.is_valid:true', {}, true],
    ['properties.count:46', {}, true],
    ['properties.count:46.0', {}, false],
    ['properties.type:/L[1-3]_RAD_GD[A-Z]/', {}, true],
    ['properties.type:(L2_RAD_GDR OR titi)', {}, true],
    ['properties.type:"L2_RAD_GDR" AND properties.is_valid:true', {}, true],
    ['NOT properties.type:L1', {}, true],
    ['properties.missing:null', {}, true],
    ['properties.type:null', {}, false],
    ['properties.tags:a', {}, false],
    // No operator precedence: evaluated as X OR count:46 OR is_valid:false.
    ['properties.type:X OR properties.count:46 AND properties.is_valid:false', {}, true],
    ['properties.missing:"null"', {}, true],
  ]
  for (const [rule, opts, expected] of rows) {
    it(`${opts.param ?? 'payload_rule'}=${rule} → ${expected}`, () => expect(result(rule, PAYLOAD, opts)).toBe(expected))
  }

  it('rejects implicit conjunction at configuration time, naming the rule, the parameter and the position', () => {
    const e = configError('properties.type:L2_RAD_GDR properties.is_valid:true')
    expect(e.rule).toBe('test-rule')
    expect(e.parameter).toBe('payload_rule')
    expect(e.position).toBe(27)
    expect(e.message).toContain('test-rule')
    expect(e.message).toContain('payload_rule')
    expect(e.message).toContain('column 28')
    expect(e.message).toMatch(/add OR or AND/)
  })

  it('rejects a range at configuration time when the extensions are off', () => {
    const e = configError('properties.is_valid:true AND properties.count:[0 TO 100]')
    expect(e.position).toBe(29)
    expect(e.message).toMatch(/range .* not supported by REGARDS.*herald_extensions/)
  })

  it('parentheses give the grouping that the no-precedence rule drops', () => {
    expect(result('(properties.type:X OR properties.count:46) AND properties.is_valid:false')).toBe(false)
    expect(result('properties.type:X OR (properties.count:46 AND properties.is_valid:false)')).toBe(false)
    expect(result('properties.count:46 AND properties.is_valid:false OR properties.type:X')).toBe(true)
  })

  it('warns about AND and OR mixed without parentheses', () => {
    expect(lucene('a:1 AND b:2 OR c:3').warnings.join()).toMatch(/no precedence/)
    expect(lucene('(a:1 AND b:2) OR c:3').warnings).toEqual([])
  })
})

describe('LuceneRuleMatcher: documented examples', () => {
  it('GeoJSON (FEM): metadata_rule=action: CREATED, payload_rule=properties.is_valid: true', () => {
    const rule = compileRule({
      pluginId: 'LuceneRuleMatcher',
      parameters: [
        { name: 'metadata_rule', value: 'action: CREATED' },
        { name: 'payload_rule', value: 'properties.is_valid: true' },
      ],
    })
    expect(rule.match({ action: 'CREATED' }, { type: 'Feature', properties: { is_valid: true } })).toEqual({ match: true })
    expect(rule.match({ action: 'UPDATED' }, { type: 'Feature', properties: { is_valid: true } })).toMatchObject({ match: false })
    expect(rule.match({ action: 'CREATED' }, { type: 'Feature', properties: { is_valid: false } })).toMatchObject({ match: false })
  })

  it('OAIS (Ingest): action: INGEST and aip.properties.descriptiveInformation.is_valid: true', () => {
    const rule = compileRule({
      pluginId: 'LuceneRuleMatcher',
      parameters: [
        { name: 'metadata_rule', value: 'action: INGEST' },
        { name: 'payload_rule', value: 'aip.properties.descriptiveInformation.is_valid: true' },
      ],
    })
    const aip = { aip: { properties: { descriptiveInformation: { is_valid: true } } } }
    expect(rule.match({ action: 'INGEST' }, aip)).toEqual({ match: true })
    expect(rule.match({ action: 'INGEST' }, { aip: { properties: {} } })).toMatchObject({ match: false })
  })

  it('with neither rule, everything matches (even without metadata)', () => {
    const rule = compileRule({ pluginId: 'LuceneRuleMatcher', parameters: [] })
    expect(rule.match(undefined, undefined)).toEqual({ match: true })
  })
})

describe('LuceneRuleMatcher: REGARDS semantics', () => {
  const doc = {
    a: { b: 'x', n: 46, f: 1.5, big: 12345678901234567890n, nul: null, obj: { k: 1 }, one: ['v'], two: ['v', 'w'], empty: '' },
    geometry: { bbox: null },
    'dotted.key': 'no',
  }

  it('walks dotted paths through objects only; null or array on the way means absent', () => {
    expect(result('a.b:x', doc)).toBe(true)
    expect(result('a.b.c:null', doc)).toBe(true) // a primitive on the way
    expect(result('geometry.bbox.x:null', doc)).toBe(true) // JSON null on the way
    expect(result('a.one.0:v', doc)).toBe(false) // arrays are not entered
    expect(result('dotted.key:no', doc)).toBe(false) // the dot always splits
    expect(result('a.b.:x', doc)).toBe(true) // Java's split drops a trailing empty segment
  })

  it('compares the string form exactly and case-sensitively', () => {
    expect(result('a.b:X', doc)).toBe(false)
    expect(result('a.n:46', doc)).toBe(true)
    expect(result('a.n:"46"', doc)).toBe(true)
    expect(result('a.n:046', doc)).toBe(false)
    expect(result('a.f:1.5', doc)).toBe(true)
    expect(result('a.big:12345678901234567890', doc)).toBe(true)
    expect(result('a.empty:""', doc)).toBe(true)
    expect(result('a.obj:x', doc)).toBe(false)
    expect(result('a.one:v', doc)).toBe(false) // REGARDS compares primitives only
    expect(result('a.nul:x', doc)).toBe(false)
  })

  it('field:null is the absence test; JSON null, objects and arrays of other than one element are matching errors', () => {
    expect(result('a.zzz:null', doc)).toBe(true)
    expect(result('a.zzz:NULL', doc)).toBe(true)
    expect(result('a.b:null', doc)).toBe(false)
    expect(result('a.one:null', doc)).toBe(false) // Gson reads a one-element array as its element
    expect(result('a.nul:null', doc)).toBe('error')
    expect(result('a.obj:null', doc)).toBe('error')
    expect(result('a.two:null', doc)).toBe('error')
    const r = match('a.nul:null', doc)
    expect(r).toEqual({ error: expect.stringMatching(/a\.nul.*JSON null/) })
  })

  it('regular expressions must match the whole value, on primitives only', () => {
    expect(result('a.b:/x/', doc)).toBe(true)
    expect(result('properties.type:/L2/')).toBe(false)
    expect(result('properties.type:/L2.*/')).toBe(true)
    expect(result('properties.count:/4\\d/')).toBe(true)
    expect(result('properties.is_valid:/tru./')).toBe(true)
    expect(result('properties.missing:/.*/')).toBe(false)
    expect(result('properties:/.*/')).toBe(false) // an object
    expect(result('properties.type:/l2.*/')).toBe(false)
    expect(result('a.b:/a\\/b|x/', doc)).toBe(true) // an escaped slash inside the expression
  })

  it('supports AND/OR/NOT, &&, ||, !, -, + and parentheses', () => {
    expect(result('properties.type:L2_RAD_GDR && properties.count:46')).toBe(true)
    expect(result('properties.type:L1 || properties.count:46')).toBe(true)
    expect(result('!properties.type:L1')).toBe(true)
    expect(result('-properties.type:L2_RAD_GDR')).toBe(false)
    expect(result('+properties.type:L2_RAD_GDR')).toBe(true)
    expect(result('properties.count:46 AND NOT (properties.type:L1 OR properties.type:L2_RAD_GDR)')).toBe(false)
    expect(result('properties.count:46 AND -properties.type:L1')).toBe(true)
    expect(result('((properties.count:46))')).toBe(true)
    expect(result('NOT (NOT properties.count:46)')).toBe(true)
  })

  it('field groups give their field to each term, unless a term names its own', () => {
    expect(result('properties.type:(L1 OR L2_RAD_GDR)')).toBe(true)
    expect(result('properties.type:(L1 OR properties.count:46)')).toBe(true)
    expect(result('properties.type:(L2_RAD_GDR AND NOT titi)')).toBe(true)
    expect(result('properties:(type:L2_RAD_GDR)')).toBe(false) // the group field replaces, it does not prefix
  })

  it('removes Lucene escapes, including unicode escapes, before comparing', () => {
    const d = { date: '2020-02-23T06:54:23.056Z', text: 'a b', odd: 'x:(y)', star: 'L2*', u: 'AB' }
    expect(result('date:2020-02-23T06\\:54\\:23.056Z', d)).toBe(true)
    expect(result('text:a\\ b', d)).toBe(true)
    expect(result('text:"a b"', d)).toBe(true)
    expect(result('odd:x\\:\\(y\\)', d)).toBe(true)
    expect(result('u:\\u0041B', d)).toBe(true)
    expect(result('star:L2\\*', d)).toBe(true)
  })

  it('compares wildcards and fuzzy terms literally, and warns about it', () => {
    expect(result('properties.type:L2*')).toBe(false)
    expect(result('t:L2*', { t: 'L2*' })).toBe(true)
    expect(result('t:L?', { t: 'L?' })).toBe(true)
    expect(result('t:L2~', { t: 'L2' })).toBe(true)
    expect(result('t:"L 2"~1.5', { t: 'L 2' })).toBe(true) // a phrase slop is dropped, never validated
    expect(lucene('t:L2*').warnings.join()).toMatch(/compared literally/)
    expect(lucene('t:L2~').warnings.join()).toMatch(/fuzzy/)
  })

  it('looks a term without field up in "defaultField"', () => {
    expect(result('L2_RAD_GDR')).toBe(false)
    expect(result('x', { defaultField: 'x' })).toBe(true)
    expect(lucene('x').warnings.join()).toMatch(/defaultField/)
  })

  it('reads "constructor" and "__proto__" as data, never as JavaScript internals', () => {
    expect(result('constructor:null', {})).toBe(true)
    expect(result('a.toString:null', { a: {} })).toBe(true)
    expect(result('constructor:x', JSON.parse('{"constructor":"x"}'))).toBe(true)
    expect(result('__proto__:x', JSON.parse('{"__proto__":"x"}'))).toBe(true)
  })

  it('short-circuits left to right, so a clause after the deciding one raises no error', () => {
    expect(result('a.b:nope AND a.nul:null', doc)).toBe(false)
    expect(result('a.b:x OR a.nul:null', doc)).toBe(true)
    expect(result('a.b:x AND a.nul:null', doc)).toBe('error')
  })

  it('evaluates metadata first and does not look at the payload when it fails', () => {
    const rule = compileRule({
      pluginId: 'LuceneRuleMatcher',
      parameters: [
        { name: 'metadata_rule', value: 'action:DELETED' },
        { name: 'payload_rule', value: 'a.nul:null' },
      ],
    })
    expect(rule.match(METADATA, doc)).toMatchObject({ match: false, explain: expect.stringMatching(/^metadata_rule: action:DELETED/) })
    expect(rule.match({ action: 'DELETED' }, doc)).toEqual({ error: expect.stringMatching(/JSON null/) })
  })

  it('gives a matching error when a rule is set but its object is missing', () => {
    expect(lucene('action:CREATED', { param: 'metadata_rule' }).match(null, PAYLOAD)).toEqual({ error: expect.stringMatching(/metadata/) })
    expect(lucene('a:b').match(METADATA, [1])).toEqual({ error: expect.stringMatching(/payload is an array/) })
  })

  it('explains which clause failed', () => {
    expect(match('properties.is_valid:true AND properties.type:L1')).toEqual({
      match: false,
      explain: 'payload_rule: properties.type:L1 is false (properties.type is "L2_RAD_GDR")',
    })
    const or = match('properties.type:L1 OR properties.missing:x')
    expect('explain' in or && or.explain).toMatch(/no alternative matched: properties.type:L1 is false .*; properties.missing:x is false \(properties.missing is absent\)/)
    const not = match('NOT properties.count:46')
    expect('explain' in not && not.explain).toMatch(/NOT properties.count:46 is false: properties.count:46 matches/)
  })
})

describe('LuceneRuleMatcher: Java regular expressions', () => {
  it('translates Java-only escapes', () => {
    expect(result('t:/\\Qa.b\\E/', { t: 'a.b' })).toBe(true)
    expect(result('t:/\\Qa.b\\E/', { t: 'axb' })).toBe(false)
    expect(result('t:/a\\x41\\u0042\\0103/', { t: 'aABC' })).toBe(true)
    expect(result('t:/[a-c]{2,3}_\\d+/', { t: 'ab_12' })).toBe(true)
    expect(result('t:/(L1|L2)_.*/', { t: 'L2_X' })).toBe(true)
  })

  it('rejects Java constructs it cannot translate faithfully, with their position', () => {
    for (const [re, why] of [
      ['a*+', /possessive/],
      ['(?i)abc', /inline flags/],
      ['(?>a)', /atomic/],
      ['\\p{Alpha}', /not supported/],
      ['[a-z&&[^b]]', /nested|intersection/],
      ['[a[b]]', /nested/],
      ['a{', /quantifier/],
    ] as const) {
      const e = configError(`t:/${re}/`)
      expect(e.message, re).toMatch(why)
      expect(e.position).toBe(0)
    }
  })

  it('rejects catastrophic patterns at configuration time', () => {
    for (const re of ['(a+)+', '(a*)*b', '(a|aa)+', '(a?){20}a{20}', '(\\w+\\s?)*$', '((ab)*c)+']) {
      expect(configError(`t:/${re}/`).message, re).toMatch(/backtrack catastrophically/)
    }
    for (const re of ['(ab)+', '(ab){3}', '(a+)?', 'a+b+', '.*a.*', '(a|b)']) {
      expect(() => lucene(`t:/${re}/`), re).not.toThrow()
    }
  })
})

describe('LuceneRuleMatcher: configuration errors', () => {
  const cases: [string, number, RegExp][] = [
    ['', 0, /empty/],
    ['a:', 2, /expected a value/],
    ['a:b AND', 7, /expected a value/],
    ['NOT NOT a:b', 4, /found "NOT"/],
    ['(a:b', 4, /closing "\)"/],
    ['a:b)', 3, /closes nothing/],
    ['a:"open', 2, /unterminated phrase/],
    ['a:/open', 2, /unterminated regular expression/],
    ['a:b\\', 3, /escape character/],
    ['a:\\u00G1', 2, /non-hex/],
    ['a:(b c)', 5, /indeterminate/],
    ['a:b -c:d', 4, /indeterminate/],
    ['a:b^2', 3, /boost/],
    ['*:*', 0, /match-all/],
    ['a:>=5', 2, /expected a value/],
    ['a>=5', 0, /range/],
    ['a:b~1.5', 3, /whole number/],
    ['(a:b)^3', 5, /boost/],
    ['a:{1 TO 5]', 0, /range/],
  ]
  for (const [rule, position, why] of cases) {
    it(`${JSON.stringify(rule)} → error at offset ${position}`, () => {
      const e = configError(rule)
      expect(e.message).toMatch(why)
      expect(e.position).toBe(position)
      expect(e.parameter).toBe('payload_rule')
    })
  }

  it('needs a value starting with - or + escaped or quoted, as in Lucene', () => {
    expect(configError('n:-1').position).toBe(2)
    expect(result('n:\\-1', { n: -1 })).toBe(true)
    expect(result('n:"-1"', { n: -1 })).toBe(true)
    expect(result('d:2020-01-01+02', { d: '2020-01-01+02' })).toBe(true)
  })

  it('reports a syntax error before a build problem, as Lucene parses before building', () => {
    expect(configError('a:b c:d AND').message).toMatch(/expected a value/)
  })

  it('checks parameter types and names', () => {
    const rule = (parameters: { name: string; value: unknown }[]) => () => compileRule({ pluginId: 'LuceneRuleMatcher', label: 'L', parameters })
    expect(rule([{ name: 'payload_rule', value: 42 }])).toThrow(/payload_rule must be a STRING/)
    expect(rule([{ name: 'herald_extensions', value: 'yes' }])).toThrow(/BOOLEAN/)
    expect(rule([{ name: 'payload_rule', value: 'a:b' }, { name: 'payload_rule', value: 'a:c' }])).toThrow(/given twice/)
    expect(rule([{ name: 'payload_rule', value: 'a:b' }])().warnings).toEqual([])
    expect(rule([{ name: 'payloadRule', value: 'a:b' }])().warnings.join()).toMatch(/unknown parameter "payloadRule"/)
    expect(() => compileRule({ pluginId: 'Nope', parameters: [] })).toThrow(/unknown rule pluginId "Nope"/)
  })
})

describe('LuceneRuleMatcher: Herald extensions (herald_extensions=true)', () => {
  const ext = { extensions: true }
  const feature = {
    properties: {
      count: 46, ratio: 0.5, type: 'L2_RAD_GDR', tags: ['a', 'b'], date: '2020-06-15T10:00:00Z',
      files: [{ nature: 'TM', size: 10 }, { nature: 'RAW', size: 2000 }], nul: null,
    },
  }
  const on = (rule: string, payload: unknown = feature) => result(rule, payload, ext)

  it('numeric ranges, inclusive, exclusive and open, and comparison operators', () => {
    expect(on('properties.count:[0 TO 100]')).toBe(true)
    expect(on('properties.count:[46 TO 100]')).toBe(true)
    expect(on('properties.count:{46 TO 100]')).toBe(false)
    expect(on('properties.count:[0 TO 46}')).toBe(false)
    expect(on('properties.count:[47 TO *]')).toBe(false)
    expect(on('properties.count:[* TO 46]')).toBe(true)
    expect(on('properties.ratio:[0.1 TO 1e0]')).toBe(true)
    expect(on('properties.count:>=46')).toBe(true)
    expect(on('properties.count:>46')).toBe(false)
    expect(on('properties.count<47')).toBe(true)
    expect(on('properties.count<=45')).toBe(false)
    expect(on('properties.type:[0 TO 100]')).toBe(false) // numbers only
  })

  it('date ranges; a date-only bound stands for the whole day', () => {
    expect(on('properties.date:[2020-01-01 TO 2020-12-31]')).toBe(true)
    expect(on('properties.date:[2020-06-15 TO 2020-06-15]')).toBe(true)
    expect(on('properties.date:{2020-06-15 TO *]')).toBe(false)
    expect(on('properties.date:[* TO 2020-06-15}')).toBe(false)
    expect(on('properties.date:[2020-06-15T10\\:00\\:00Z TO 2020-06-15T10\\:00\\:00Z]')).toBe(true)
    expect(on('properties.date:>=2020-06-15T10\\:00\\:01')).toBe(false) // no offset: UTC
    expect(on('properties.date:<"2020-06-15T10:00:01+00:00"')).toBe(true)
    expect(on('properties.type:[2020-01-01 TO 2020-12-31]')).toBe(false) // not a date
  })

  it('text ranges compare strings', () => {
    expect(on('properties.type:[L1 TO L3]')).toBe(true)
    expect(on('properties.type:[M TO Z]')).toBe(false)
  })

  it('wildcards * and ?, escaped ones literal, phrases literal', () => {
    expect(on('properties.type:L2*')).toBe(true)
    expect(on('properties.type:L?_RAD_*')).toBe(true)
    expect(on('properties.type:*GDR')).toBe(true)
    expect(on('properties.type:l2*')).toBe(false)
    expect(on('properties.type:L2\\*')).toBe(false)
    expect(on('properties.type:"L2*"')).toBe(false)
    expect(on('properties.count:4?')).toBe(true)
    expect(on('properties.missing:*')).toBe(false)
    expect(on('properties.type:*')).toBe(true)
    expect(on('t:L2*', { t: 'L2*' })).toBe(true)
  })

  it('array-any: a term, regex or range holds if any element holds, through arrays on the path too', () => {
    expect(on('properties.tags:a')).toBe(true)
    expect(on('properties.tags:c')).toBe(false)
    expect(on('properties.tags:/[b-z]/')).toBe(true)
    expect(on('properties.files.nature:RAW')).toBe(true)
    expect(on('properties.files.size:>1000')).toBe(true)
    expect(on('properties.files.nature:RAW AND NOT properties.files.nature:TM')).toBe(false)
    expect(on('properties.tags:null')).toBe(false)
    expect(on('properties.files.checksum:null')).toBe(true)
    expect(on('properties.nul:null')).toBe('error')
  })

  it('*:* matches everything', () => {
    expect(on('*:*', {})).toBe(true)
  })

  it('accepts the flag as a string, as REGARDS exports may carry it', () => {
    expect(result('properties.tags:a', feature, { extensions: 'true' })).toBe(true)
    expect(result('properties.tags:a', feature, { extensions: 'false' })).toBe(false)
  })

  it('keeps implicit conjunction and boosts as errors', () => {
    expect(configError('a:1 b:2', ext).message).toMatch(/indeterminate/)
    expect(configError('a:1^2', ext).message).toMatch(/boost/)
    expect(configError('a:[1 TO 2]^3', ext).position).toBe(10)
  })

  it('does not change the result of a REGARDS rule on a payload without arrays or wildcards', () => {
    const payloads = [PAYLOAD, { properties: { type: 'L1', count: 3, missing: null } }, { a: 1 }]
    const rules = [
      'properties.type:L2_RAD_GDR AND properties.count:46',
      'properties.type:X OR properties.count:46 AND properties.is_valid:false',
      'NOT properties.missing:null',
      'properties.type:/L[12].*/',
      'properties.type:"L1" OR NOT properties.count:(3 OR 46)',
    ]
    for (const rule of rules) {
      for (const payload of payloads) {
        expect(result(rule, payload, ext), `${rule} on ${JSON.stringify(payload)}`).toEqual(result(rule, payload))
      }
    }
  })
})
