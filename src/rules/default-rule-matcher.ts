/**
 * REGARDS' `DefaultRuleMatcher` (rs-notifier `service/plugin/DefaultRuleMatcher.java`): true iff some
 * entry of the payload, at any depth of nested *objects* (arrays are not entered), has the key
 * `attributeToSeek` and a value whose Gson string form equals `attributeValueToSeek`. Metadata is ignored.
 *
 * The Java code, kept in mind for the edge cases:
 *
 *   payload == null → false
 *   payload.getAsJsonObject().entrySet().stream().anyMatch(e -> contains(e))   // not an object: throws
 *   contains(e) = (e.key.equals(attr) && e.value.getAsString().equals(value))  // throws: see gsonAsString
 *              || (e.value.isJsonObject() && e.value.entrySet().stream().anyMatch(contains))
 *
 * So the search is depth-first in key order and stops at the first match *or the first exception*: a key
 * equal to `attributeToSeek` holding an object, JSON null, or an array of other than one element is a
 * matching error, unless a match was found earlier in the walk. Gson keeps keys in document order;
 * JavaScript objects list integer-like keys first, which can change which of a match and an error comes
 * first only when both exist under sibling keys of which one is integer-like.
 */
import { Type } from 'typebox'
import { declarePlugin, P } from '../plugins/declaration.ts'
import { describeValue, gsonAsString, isObject, MatchError, type JsonObject } from './json-values.ts'

export const DEFAULT_RULE_MATCHER = declarePlugin({
  pluginId: 'DefaultRuleMatcher',
  kind: 'RULE',
  version: '1.0.0',
  author: 'Herald',
  description: 'Matches when some entry of the payload, at any depth of nested objects, has a given key and value (REGARDS DefaultRuleMatcher).',
  parameters: Type.Object({
    attributeToSeek: P.string('Key to look for in the payload, at any depth of nested objects (arrays are not searched).', { label: 'Attribute' }),
    attributeValueToSeek: P.string('Value that key must have, compared as text (46 matches "46"), case-sensitive.', { label: 'Value' }),
  }),
})

export interface CompiledDefaultRule {
  /** @throws MatchError where REGARDS throws. */
  test(payload: unknown): boolean
  /** Why `test` returned false (only call it then). */
  explain(payload: unknown): string
}

/**
 * @example compileDefaultRule('nature', 'TM').test({ properties: { file_infos: { nature: 'TM' } } }) // true
 */
export function compileDefaultRule(attributeToSeek: string, attributeValueToSeek: string): CompiledDefaultRule {
  const what = `attribute "${attributeToSeek}"`
  const search = (o: JsonObject): boolean => {
    for (const key of Object.keys(o)) {
      const v = o[key]
      if (key === attributeToSeek && gsonAsString(v, what) === attributeValueToSeek) return true
      if (isObject(v) && search(v)) return true
    }
    return false
  }
  const test = (payload: unknown): boolean => {
    if (payload === null || payload === undefined) return false
    if (!isObject(payload)) throw new MatchError(`the payload is ${describeValue(payload)}, not a JSON object`)
    return search(payload)
  }
  const explain = (payload: unknown): string => {
    const wanted = `${attributeToSeek} = ${JSON.stringify(attributeValueToSeek)}`
    if (payload === null || payload === undefined) return `no payload to search for ${wanted}`
    const found: string[] = []
    collect(payload as JsonObject, attributeToSeek, found)
    const seen = found.length === 0 ? `no key "${attributeToSeek}" in any object` : `"${attributeToSeek}" holds ${found.slice(0, 3).join(', ')}${found.length > 3 ? ', …' : ''}`
    return `no entry ${wanted} in the payload (arrays are not searched): ${seen}`
  }
  return { test, explain }
}

function collect(o: JsonObject, key: string, found: string[]): void {
  for (const k of Object.keys(o)) {
    const v = o[k]
    if (k === key) found.push(describeValue(v))
    if (isObject(v)) collect(v, key, found)
  }
}
