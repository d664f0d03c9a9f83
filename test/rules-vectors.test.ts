// The REGARDS test vectors (test/fixtures/regards-rule-vectors.jsonl): each line is one of REGARDS' own
// LuceneRuleMatcher / DefaultRuleMatcher test cases, written down as data with the result REGARDS gives;
// Herald must give the same result. Read at test time so that a new vector is a new test.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { compileRule, RuleConfigError, type MatchResult, type RuleConfig } from '../src/rules/compile-rule.ts'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const file = path.resolve(repoRoot, 'test/fixtures/regards-rule-vectors.jsonl')

interface Vector {
  id: string
  rule: RuleConfig
  metadata: unknown
  payload: unknown
  expect: boolean | string | { error: unknown }
}

const vectors: Vector[] = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Vector)

/** Herald's outcome: a configuration error is the "plugin cannot be instantiated" of REGARDS. */
function run(v: Vector): MatchResult | { configError: RuleConfigError } {
  try {
    return compileRule(v.rule).match(v.metadata, v.payload)
  } catch (e) {
    if (e instanceof RuleConfigError) return { configError: e }
    throw e
  }
}

describe('REGARDS rule vectors', () => {
  it('reads every vector of the reference file', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(22)
    expect(new Set(vectors.map((v) => v.id)).size).toBe(vectors.length)
  })

  for (const v of vectors) {
    it(`${v.id} → ${JSON.stringify(v.expect)}`, () => {
      const result = run(v)
      if (typeof v.expect === 'boolean') {
        expect(result).toMatchObject({ match: v.expect })
      } else {
        // Any error expectation: REGARDS fails to instantiate the plugin or throws while matching.
        const failed = 'configError' in result || 'error' in result
        expect(failed, JSON.stringify(result)).toBe(true)
      }
    })
  }
})
