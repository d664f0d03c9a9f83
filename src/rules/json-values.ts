/**
 * How REGARDS (Gson) sees JSON values, shared by both matchers.
 *
 * Numbers: Gson keeps the text of a number as written and `getAsString()` returns it, so `46` is "46" and
 * `46.0` is "46.0". Herald receives payloads already parsed by `JSON.parse`, which keeps only the value,
 * so Herald uses JavaScript's shortest round-trip form (`String(n)`). The two agree for every number
 * written the way JSON serialisers write them (integers, decimals without trailing zeros); they differ for
 * a payload written `46.0` (Herald "46", REGARDS "46.0"), `1e3` (Herald "1000"), `-0` (Herald "0") and
 * integers beyond 2^53 (precision lost by `JSON.parse`). A caller that parses with a lossless parser may
 * pass integers as `bigint`, which are printed exactly.
 */

/** A failure REGARDS would raise as an exception while matching: a matching error, never a silent false. */
export class MatchError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MatchError'
  }
}

export type JsonObject = Record<string, unknown>

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A JSON primitive for Gson: string, number, boolean (JSON null is not one). */
export function isPrimitive(v: unknown): v is string | number | boolean | bigint {
  const t = typeof v
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint'
}

/** The string form of a primitive, as Gson's `JsonPrimitive.getAsString()` gives it (see the note above). */
export function primitiveString(v: string | number | boolean | bigint): string {
  return typeof v === 'string' ? v : String(v)
}

/**
 * Gson's `JsonElement.getAsString()` on any value: a primitive gives its string; an array with exactly one
 * element gives that element's; JSON null, an object, or an array of any other size throws (REGARDS lets
 * the exception escape, which the notifier counts as a matching error).
 */
export function gsonAsString(v: unknown, what: string): string {
  if (isPrimitive(v)) return primitiveString(v)
  if (Array.isArray(v)) {
    if (v.length === 1) return gsonAsString(v[0], what)
    throw new MatchError(`${what} is an array of ${v.length} elements, which REGARDS cannot read as a single value`)
  }
  if (v === null) throw new MatchError(`${what} is JSON null, which REGARDS cannot read as a value`)
  throw new MatchError(`${what} is an object, which REGARDS cannot read as a value`)
}

/** Own property lookup that ignores `Object.prototype` (a payload key "constructor" is data, not a method). */
export function getOwn(o: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined
}

/** Keys whose plain lookup `o[key]` could reach `Object.prototype`: these need `getOwn`. */
export function needsOwnCheck(key: string): boolean {
  return key in Object.prototype
}

/** Short description of a value for explanations. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'absent'
  if (Array.isArray(v)) return `an array of ${v.length}`
  if (isObject(v)) return 'an object'
  const text = typeof v === 'bigint' ? String(v) : JSON.stringify(v)
  return text.length > 80 ? text.slice(0, 77) + '…' : text
}
