import { describe, expect, it } from 'vitest'
import { compileRule, RuleConfigError, type MatchResult } from '../src/rules/compile-rule.ts'

function rule(attributeToSeek: unknown, attributeValueToSeek: unknown) {
  return compileRule({
    pluginId: 'DefaultRuleMatcher',
    businessId: 'by-nature',
    parameters: [
      { name: 'attributeToSeek', type: 'STRING', value: attributeToSeek },
      { name: 'attributeValueToSeek', type: 'STRING', value: attributeValueToSeek },
    ],
  })
}

function outcome(r: MatchResult): boolean | 'error' {
  return 'error' in r ? 'error' : r.match
}

const seek = (key: string, value: string, payload: unknown, metadata: unknown = {}) => outcome(rule(key, value).match(metadata, payload))

describe('DefaultRuleMatcher', () => {
  it('finds the key at any depth of nested objects (the IT example)', () => {
    expect(seek('nature', 'TM', { properties: { file_infos: { nature: 'TM' } } })).toBe(true)
    expect(seek('nature', 'TM', { nature: 'TM' })).toBe(true)
    expect(seek('nature', 'TM', { a: { b: { c: { d: { nature: 'TM' } } } } })).toBe(true)
  })

  it('passes over other values of the same key and keeps searching', () => {
    expect(seek('type', 'L0A', { type: 'Feature', geometry: { type: 'Point' }, properties: { data: { type: 'L0A' } } })).toBe(true)
    expect(seek('type', 'L0B', { type: 'Feature', geometry: { type: 'Point' }, properties: { data: { type: 'L0A' } } })).toBe(false)
  })

  it('does not enter arrays', () => {
    expect(seek('nature', 'TM', { files: [{ nature: 'TM' }] })).toBe(false)
    expect(seek('nature', 'TM', { files: [[{ nature: 'TM' }]] })).toBe(false)
  })

  it('is case-sensitive on keys and values', () => {
    expect(seek('nature', 'tm', { nature: 'TM' })).toBe(false)
    expect(seek('Nature', 'TM', { nature: 'TM' })).toBe(false)
  })

  it('compares numbers and booleans by their lexical form', () => {
    expect(seek('count', '22', { count: 22 })).toBe(true)
    expect(seek('count', '22.0', { count: 22 })).toBe(false)
    expect(seek('ratio', '0.25', { ratio: 0.25 })).toBe(true)
    expect(seek('flag', 'false', { flag: false })).toBe(true)
    expect(seek('flag', 'FALSE', { flag: false })).toBe(false)
    expect(seek('id', '12345678901234567890', { id: 12345678901234567890n })).toBe(true)
  })

  it('documents the JSON.parse difference: 46.0 reads as 46 in Herald (REGARDS would keep "46.0")', () => {
    const parsed = JSON.parse('{"count": 46.0}')
    expect(seek('count', '46', parsed)).toBe(true)
    expect(seek('count', '46.0', parsed)).toBe(false)
  })

  it('reads a one-element array as its element, as Gson does', () => {
    expect(seek('tag', 'a', { tag: ['a'] })).toBe(true)
    expect(seek('tag', 'a', { tag: [['a']] })).toBe(true)
  })

  it('gives a matching error where REGARDS throws: the key holds an object, JSON null, or an array of other than one element', () => {
    expect(seek('nature', 'TM', { nature: { x: 1 } })).toBe('error')
    expect(seek('nature', 'TM', { nature: null })).toBe('error')
    expect(seek('nature', 'TM', { nature: [] })).toBe('error')
    expect(seek('nature', 'TM', { nature: ['TM', 'TX'] })).toBe('error')
    expect(seek('nature', 'TM', { nature: [{ x: 1 }] })).toBe('error')
    expect(seek('nature', 'TM', { nature: [null] })).toBe('error')
    const r = rule('nature', 'TM').match({}, { a: { nature: null } })
    expect(r).toEqual({ error: expect.stringMatching(/attribute "nature" is JSON null/) })
  })

  it('stops at the first match or the first error, depth first in key order', () => {
    expect(seek('k', 'v', { a: { k: 'v' }, b: { k: null } })).toBe(true)
    expect(seek('k', 'v', { b: { k: null }, a: { k: 'v' } })).toBe('error')
    // The key holding an object throws before its content is searched.
    expect(seek('k', 'v', { k: { k: 'v' } })).toBe('error')
  })

  it('does not mind objects and nulls under other keys', () => {
    expect(seek('nature', 'TM', { other: null, geometry: { bbox: null }, nature: 'TM' })).toBe(true)
  })

  it('returns false on a missing payload and an error on a payload that is not an object', () => {
    expect(seek('nature', 'TM', null)).toBe(false)
    expect(seek('nature', 'TM', undefined)).toBe(false)
    expect(seek('nature', 'TM', ['TM'])).toBe('error')
    expect(seek('nature', 'TM', 'TM')).toBe('error')
  })

  it('ignores metadata', () => {
    expect(seek('action', 'CREATED', {}, { action: 'CREATED' })).toBe(false)
  })

  it('explains a non-match with the values it saw', () => {
    expect(rule('type', 'L0B').match({}, { type: 'Feature', geometry: { type: 'Point' } })).toEqual({
      match: false,
      explain: 'no entry type = "L0B" in the payload (arrays are not searched): "type" holds "Feature", "Point"',
    })
    expect(rule('nature', 'TM').match({}, { a: 1 })).toMatchObject({ explain: expect.stringMatching(/no key "nature"/) })
  })

  it('requires both parameters, as strings', () => {
    const missing = (parameters: { name: string; value: unknown }[]) => () => compileRule({ pluginId: 'DefaultRuleMatcher', label: 'Rule A', parameters })
    expect(missing([])).toThrow(RuleConfigError)
    expect(missing([])).toThrow(/rule "Rule A" \(DefaultRuleMatcher\): missing mandatory parameter attributeToSeek/)
    expect(missing([{ name: 'attributeToSeek', value: 'x' }])).toThrow(/attributeValueToSeek/)
    expect(missing([{ name: 'attributeToSeek', value: 'x' }, { name: 'attributeValueToSeek', value: null }])).toThrow(/attributeValueToSeek/)
    expect(() => rule('count', 22)).toThrow(/attributeValueToSeek must be a STRING/)
  })

  it('an empty expected value matches an empty string only', () => {
    expect(seek('note', '', { note: '' })).toBe(true)
    expect(seek('note', '', { note: 'x' })).toBe(false)
  })

  it('turns a stack overflow on an absurdly deep payload into a matching error, not a crash', () => {
    let deep: Record<string, unknown> = { end: true }
    for (let i = 0; i < 100_000; i++) deep = { d: deep }
    expect(seek('nature', 'TM', deep)).toBe('error')
  })
})
